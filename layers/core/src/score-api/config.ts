/** Configuration of score-api, read once at cold start (docs/DEPLOY.md lists every variable). */

import { type EdgeConfig, readEdgeConfig, readUrlFetch, type UrlFetchConfig } from '../clients/config.ts';
import { type Env, integer, list, required } from '../common/env.ts';

export interface ApiConfig extends EdgeConfig {
  /** Bucket for staged uploads and stored results. */
  bucket: string;
  /** Buckets an `{ s3: { bucket, key } }` input may name (default: BUCKET). */
  allowedBuckets: string[];
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
    maxBatchItems: integer(env, 'MAX_BATCH_ITEMS', 16),
    maxImageBytes: integer(env, 'MAX_IMAGE_BYTES', 10 * 1024 * 1024),
    url: readUrlFetch(env),
  };
}
