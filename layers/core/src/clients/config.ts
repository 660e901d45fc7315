/**
 * Configuration of the clients every edge function shares (S3, the scorer, the safe URL fetcher, the
 * result store's prefixes), read once from the environment at cold start. A missing or malformed
 * variable fails there with a message that names it; nothing deeper in the code reads process.env.
 * Every variable and its default is listed in docs/DEPLOY.md.
 */

import { boolean, type Env, integer, list, optional, prefix, required, value } from '../common/env.ts';
import { ConfigError } from '../common/errors.ts';

export interface S3Config {
  region: string;
  /** Custom endpoint (local S3); undefined on AWS. */
  endpoint: string | undefined;
  forcePathStyle: boolean;
  /** Each S3 request fails after this long without an answer (S3_TIMEOUT_MS). */
  timeoutMs: number;
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
  /**
   * Time kept back from the function's own timeout for what follows scoring (writes, the answer):
   * scorer attempts must end this long before the Lambda timeout (DEADLINE_RESERVE_MS).
   */
  reserveMs: number;
  s3: S3Config;
  scorer: ScorerClientConfig;
  store: StoreConfig;
  region: string;
}

export function readS3(env: Env): S3Config {
  const endpoint = value(env, 'S3_ENDPOINT');
  return {
    region: optional(env, 'AWS_REGION', 'us-east-1'),
    endpoint,
    forcePathStyle: boolean(env, 'S3_FORCE_PATH_STYLE', endpoint !== undefined),
    timeoutMs: integer(env, 'S3_TIMEOUT_MS', 5_000),
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

export function readEdgeConfig(env: Env): EdgeConfig {
  const url = value(env, 'SCORER_URL');
  const functionName =
    url === undefined
      ? required(env, 'SCORER_FUNCTION_NAME', ' (or SCORER_URL for an HTTP scorer)')
      : value(env, 'SCORER_FUNCTION_NAME');
  return {
    region: optional(env, 'AWS_REGION', 'us-east-1'),
    reserveMs: integer(env, 'DEADLINE_RESERVE_MS', 3_000, 0),
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
