/**
 * Configuration of the scorer (Lambda handler and GPU HTTP server), read once from the environment.
 * Kept apart from the edge functions' config because it imports the runtime (onnxruntime-node), which
 * the edge functions must not load.
 */
import { readS3, readUrlFetch, type S3Config, type UrlFetchConfig } from '../clients/config.ts';
import { MAX_JOB_ITEMS } from '../clients/scorer-protocol.ts';
import { boolean, type Env, integer, list, optional, value } from '../common/env.ts';
import { ConfigError } from '../common/errors.ts';
import { DEFAULT_MODEL, DEFAULT_MODELS_DIR } from '../model/registry.ts';
import { PROVIDERS, type Provider } from '../model/runtime.ts';
import { parseThresholds, type TierThresholds } from '../model/scores.ts';

export interface ScorerConfig {
  s3: S3Config;
  model: string;
  modelsDir: string;
  provider: Provider;
  /** REQUIRE_PROVIDER: fail at start instead of falling back to cpu (the GPU image sets it). */
  requireProvider: boolean;
  batchSize: number;
  intraOpThreads: number;
  verifyModel: boolean;
  tiers: TierThresholds | undefined;
  maxImageBytes: number;
  url: UrlFetchConfig;
  /**
   * Buckets the scorer may read (ALLOWED_BUCKETS). Empty (the default) = none: S3 inputs are refused
   * with a 400 naming the setting, so a scorer never reads whatever bucket its role happens to reach.
   */
  allowedBuckets: string[];
}

export interface ServerConfig extends ScorerConfig {
  /** Interface to listen on: loopback by default; containers set HOST=0.0.0.0 explicitly. */
  host: string;
  port: number;
  /** Micro-batching: how long the first request of a batch waits for company. */
  batchWindowMs: number;
  maxBatchItems: number;
  /**
   * Items admitted at once (being fetched, queued or scored). A job that would pass it is answered
   * 503 SCORER_UNAVAILABLE with Retry-After, which the scorer client retries. At least one full job.
   */
  maxQueuedItems: number;
}

export function readScorerConfig(env: Env = process.env): ScorerConfig {
  const provider = optional(env, 'PROVIDER', 'cpu');
  if (!(PROVIDERS as readonly string[]).includes(provider)) {
    throw new ConfigError(
      `Environment variable PROVIDER must be one of ${PROVIDERS.join(', ')} but is "${provider}"`,
    );
  }
  const tiers = value(env, 'TIERS');
  let thresholds: TierThresholds | undefined;
  try {
    thresholds = tiers === undefined ? undefined : parseThresholds(tiers);
  } catch (error) {
    throw new ConfigError(`Environment variable TIERS is invalid: ${(error as Error).message}`);
  }
  return {
    s3: readS3(env),
    model: optional(env, 'MODEL', DEFAULT_MODEL),
    modelsDir: optional(env, 'MODELS_DIR', DEFAULT_MODELS_DIR),
    provider: provider as Provider,
    requireProvider: boolean(env, 'REQUIRE_PROVIDER', false),
    batchSize: integer(env, 'BATCH_SIZE', 8),
    intraOpThreads: integer(env, 'INTRA_OP_THREADS', 0, 0),
    verifyModel: boolean(env, 'VERIFY_MODEL', true),
    tiers: thresholds,
    maxImageBytes: integer(env, 'MAX_IMAGE_BYTES', 32 * 1024 * 1024),
    url: readUrlFetch(env),
    allowedBuckets: list(env, 'ALLOWED_BUCKETS', []),
  };
}

export function readServerConfig(env: Env = process.env): ServerConfig {
  const scorer = readScorerConfig(env);
  const maxBatchItems = integer(env, 'MAX_BATCH_ITEMS', scorer.batchSize * 4);
  // Two batches' worth (one scoring, one filling), and never less than one whole job.
  const queued = Math.max(MAX_JOB_ITEMS, 2 * maxBatchItems);
  return {
    ...scorer,
    host: optional(env, 'HOST', '127.0.0.1'),
    port: integer(env, 'PORT', 8080, 0),
    batchWindowMs: integer(env, 'BATCH_WINDOW_MS', 5, 0),
    maxBatchItems,
    maxQueuedItems: integer(env, 'MAX_QUEUED_ITEMS', queued, MAX_JOB_ITEMS),
  };
}
