/** Configuration of score-api, read once at cold start (docs/DEPLOY.md lists every variable). */
import { type EdgeConfig, readEdgeConfig, readUrlFetch, type UrlFetchConfig } from '../clients/config.ts';
import { LIMITS } from '../clients/scorer-protocol.ts';
import { type Env, integer, list, prefix, required } from '../common/env.ts';
import { ConfigError } from '../common/errors.ts';

/**
 * API Gateway hands Lambda at most 6 MB, the body base64-encoded: 4 MiB of image bytes (5.6 MB
 * encoded) leaves room for the rest of the event. Larger images go to S3 first and are scored by `{ s3 }`.
 */
export const MAX_DIRECT_IMAGE_BYTES = 4 * 1024 * 1024;

export interface ApiConfig extends EdgeConfig {
  /** Bucket for staged uploads and stored results. */
  bucket: string;
  /** Buckets an `{ s3: { bucket, key } }` input may name (default: BUCKET). */
  allowedBuckets: string[];
  /** Key prefixes an `{ s3 }` input may name (default: the upload and staging prefixes). */
  allowedPrefixes: string[];
  /** Where the API stores its own results (apart from the upload pipeline's `results/`). */
  apiResultsPrefix: string;
  maxBatchItems: number;
  maxImageBytes: number;
  url: UrlFetchConfig;
}

export function readApiConfig(env: Env = process.env): ApiConfig {
  const edge = readEdgeConfig(env);
  const bucket = required(env, 'BUCKET');
  return {
    ...edge,
    bucket,
    allowedBuckets: list(env, 'ALLOWED_BUCKETS', [bucket]),
    allowedPrefixes: list(env, 'API_S3_PREFIXES', [
      prefix(env, 'UPLOAD_PREFIX', 'uploads/'),
      edge.store.stagingPrefix,
    ]).map((p) => {
      if (p !== '' && !p.endsWith('/')) {
        throw new ConfigError(
          `Environment variable API_S3_PREFIXES must list key prefixes ending in "/" but has "${p}"`,
        );
      }
      return p;
    }),
    apiResultsPrefix: prefix(env, 'API_RESULTS_PREFIX', 'api-results/'),
    maxBatchItems: atMost('MAX_BATCH_ITEMS', integer(env, 'MAX_BATCH_ITEMS', 16), LIMITS.items),
    maxImageBytes: atMost(
      'MAX_IMAGE_BYTES',
      integer(env, 'MAX_IMAGE_BYTES', MAX_DIRECT_IMAGE_BYTES),
      MAX_DIRECT_IMAGE_BYTES,
    ),
    url: readUrlFetch(env),
  };
}

function atMost(name: string, value: number, max: number): number {
  if (value > max) {
    throw new ConfigError(
      `Environment variable ${name} must be at most ${max} (the scorer's and API Gateway's limit) but is "${value}"`,
    );
  }
  return value;
}
