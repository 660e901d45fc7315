/**
 * Configuration of the serverless functions and the scorer service, read once from the environment at
 * cold start. A missing or malformed variable fails there with a message that names it
 * ("Environment variable BUCKET is required"); nothing deeper in the code reads process.env.
 * Every variable and its default is listed in docs/DEPLOY.md.
 */
import type { SecretsSource } from '../wordpress/secrets.ts';
import { ConfigError } from './errors.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

export function required(env: Env, name: string, hint = ''): string {
  const v = value(env, name);
  if (v === undefined) throw new ConfigError(`Environment variable ${name} is required${hint}`);
  return v;
}

export function optional(env: Env, name: string, fallback: string): string {
  return value(env, name) ?? fallback;
}

export function integer(env: Env, name: string, fallback: number, min = 1): number {
  const v = value(env, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new ConfigError(`Environment variable ${name} must be an integer >= ${min} but is "${v}"`);
  }
  return n;
}

export function boolean(env: Env, name: string, fallback: boolean): boolean {
  const v = value(env, name)?.toLowerCase();
  if (v === undefined) return fallback;
  if (['1', 'true', 'yes'].includes(v)) return true;
  if (['0', 'false', 'no'].includes(v)) return false;
  throw new ConfigError(`Environment variable ${name} must be true or false but is "${v}"`);
}

export function list(env: Env, name: string, fallback: readonly string[]): string[] {
  const v = value(env, name);
  if (v === undefined) return [...fallback];
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A key prefix: "" (whole bucket) or ending in "/". */
export function prefix(env: Env, name: string, fallback: string): string {
  const v = env[name] === undefined ? fallback : env[name]!.trim();
  if (v !== '' && (!v.endsWith('/') || v.startsWith('/'))) {
    throw new ConfigError(
      `Environment variable ${name} must be empty or a key prefix ending in "/" (e.g. "uploads/") but is "${v}"`,
    );
  }
  return v;
}

export interface S3Config {
  region: string;
  /** Custom endpoint (local S3); undefined on AWS. */
  endpoint: string | undefined;
  forcePathStyle: boolean;
}

export interface ScorerClientConfig {
  /** Lambda function name or ARN of the scorer (when no URL is set). */
  functionName: string | undefined;
  /** Lambda endpoint override (serverless-offline's Lambda port locally). */
  lambdaEndpoint: string | undefined;
  /** HTTP scorer (GPU service) base URL; takes precedence over the function. */
  url: string | undefined;
  maxAttempts: number;
  backoffMs: number;
  timeoutMs: number;
}

export interface UrlFetchConfig {
  /** Exact origins (scheme://host[:port]) that URL inputs may use; empty = URL inputs disabled. */
  allowedOrigins: string[];
  /** Local development only: allow loopback/private addresses. Never set on AWS. */
  allowPrivateNetworks: boolean;
  maxRedirects: number;
  timeoutMs: number;
}

export interface StoreConfig {
  resultsPrefix: string;
  stagingPrefix: string;
  deadLetterPrefix: string;
}

export interface EdgeConfig {
  s3: S3Config;
  scorer: ScorerClientConfig;
  store: StoreConfig;
  region: string;
}

export interface ApiConfig extends EdgeConfig {
  /** Bucket for staged uploads and stored results. */
  bucket: string;
  /** Buckets an `{ s3: { bucket, key } }` input may name (default: BUCKET). */
  allowedBuckets: string[];
  maxBatchItems: number;
  maxImageBytes: number;
  url: UrlFetchConfig;
}

export interface UploadConfig extends EdgeConfig {
  uploadPrefix: string;
  /** Lower-case suffixes of keys to score; empty = every key under the prefix. */
  uploadSuffixes: string[];
}

export interface WordPressConfig extends EdgeConfig {
  wordpress: {
    /** The one site this deployment serves, e.g. https://example.com/ (REST at <siteUrl>wp-json/). */
    siteUrl: string;
    /** A user who can edit media; their application password is one of the secrets. */
    user: string;
    /** Where the webhook secret and the application password come from (wordpress/secrets.ts). */
    secrets: SecretsSource;
    /** How far a delivery's timestamp may be from now. */
    toleranceS: number;
  };
  /** Where image URLs may point (default: the site's origin). */
  url: UrlFetchConfig;
}

export const DEFAULT_SUFFIXES = [
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.gif',
  '.avif',
  '.heic',
  '.heif',
  '.tif',
  '.tiff',
];

export function readS3(env: Env): S3Config {
  const endpoint = value(env, 'S3_ENDPOINT');
  return {
    region: optional(env, 'AWS_REGION', 'us-east-1'),
    endpoint,
    forcePathStyle: boolean(env, 'S3_FORCE_PATH_STYLE', endpoint !== undefined),
  };
}

export function readUrlFetch(env: Env): UrlFetchConfig {
  const allowedOrigins = list(env, 'URL_ALLOWED_ORIGINS', []).map((o) => {
    let parsed: URL;
    try {
      parsed = new URL(o);
    } catch {
      throw new ConfigError(`Environment variable URL_ALLOWED_ORIGINS has an invalid origin "${o}"`);
    }
    if (!['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== o.replace(/\/$/, '')) {
      throw new ConfigError(
        `Environment variable URL_ALLOWED_ORIGINS expects origins like https://images.example.com (no path) but has "${o}"`,
      );
    }
    return parsed.origin;
  });
  return {
    allowedOrigins,
    allowPrivateNetworks: boolean(env, 'URL_ALLOW_PRIVATE_NETWORKS', false),
    maxRedirects: integer(env, 'URL_MAX_REDIRECTS', 3, 0),
    timeoutMs: integer(env, 'URL_TIMEOUT_MS', 10_000),
  };
}

function readEdge(env: Env): EdgeConfig {
  const url = value(env, 'SCORER_URL');
  const functionName =
    url === undefined
      ? required(env, 'SCORER_FUNCTION_NAME', ' (or SCORER_URL for an HTTP scorer)')
      : value(env, 'SCORER_FUNCTION_NAME');
  return {
    region: optional(env, 'AWS_REGION', 'us-east-1'),
    s3: readS3(env),
    scorer: {
      functionName,
      lambdaEndpoint: value(env, 'LAMBDA_ENDPOINT'),
      url,
      maxAttempts: integer(env, 'SCORER_MAX_ATTEMPTS', 3),
      backoffMs: integer(env, 'SCORER_BACKOFF_MS', 200, 0),
      timeoutMs: integer(env, 'SCORER_TIMEOUT_MS', 60_000),
    },
    store: {
      resultsPrefix: prefix(env, 'RESULTS_PREFIX', 'results/'),
      stagingPrefix: prefix(env, 'STAGING_PREFIX', 'api-uploads/'),
      deadLetterPrefix: prefix(env, 'DEAD_LETTER_PREFIX', 'dead-letter/'),
    },
  };
}

export function readApiConfig(env: Env = process.env): ApiConfig {
  const edge = readEdge(env);
  const bucket = required(env, 'BUCKET');
  return {
    ...edge,
    bucket,
    allowedBuckets: list(env, 'ALLOWED_BUCKETS', [bucket]),
    maxBatchItems: integer(env, 'MAX_BATCH_ITEMS', 16),
    maxImageBytes: integer(env, 'MAX_IMAGE_BYTES', 10 * 1024 * 1024),
    url: readUrlFetch(env),
  };
}

export function readUploadConfig(env: Env = process.env): UploadConfig {
  const edge = readEdge(env);
  return {
    ...edge,
    uploadPrefix: prefix(env, 'UPLOAD_PREFIX', 'uploads/'),
    uploadSuffixes: list(env, 'UPLOAD_SUFFIXES', DEFAULT_SUFFIXES).map((s) => s.toLowerCase()),
  };
}

export function readWordPressConfig(env: Env = process.env): WordPressConfig {
  const edge = readEdge(env);
  const siteUrl = required(env, 'WP_SITE_URL');
  let origin: string;
  try {
    origin = new URL(siteUrl).origin;
  } catch {
    throw new ConfigError(
      `Environment variable WP_SITE_URL must be a URL like https://example.com/ but is "${siteUrl}"`,
    );
  }
  const parameter = value(env, 'WP_SECRETS_PARAMETER');
  const secrets: SecretsSource = parameter
    ? { parameter, region: edge.region, endpoint: value(env, 'SSM_ENDPOINT') }
    : {
        values: {
          webhookSecret: required(env, 'WP_WEBHOOK_SECRET', ' (or WP_SECRETS_PARAMETER)'),
          appPassword: required(env, 'WP_APP_PASSWORD', ' (or WP_SECRETS_PARAMETER)'),
        },
      };
  const url = readUrlFetch(env);
  return {
    ...edge,
    wordpress: {
      siteUrl,
      user: required(env, 'WP_USER'),
      secrets,
      toleranceS: integer(env, 'WP_TIMESTAMP_TOLERANCE_S', 300),
    },
    url: { ...url, allowedOrigins: url.allowedOrigins.length ? url.allowedOrigins : [origin] },
  };
}
