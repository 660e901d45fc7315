/**
 * on-upload: an S3 ObjectCreated event → score each new object through the scorer → tag the object and
 * write its result JSON. Idempotent per object version and model version; a bad image is a typed error
 * result (permanent, not retried); a scorer that cannot be reached fails the invocation so Lambda
 * retries it and finally sends it to the dead-letter destination.
 */

import type { ObjectStore } from '../clients/s3.ts';
import { createdObjects, type UploadedObject } from '../clients/s3-event.ts';
import type { CallOptions, ScorerClient } from '../clients/scorer-client.ts';
import type { ModelInfo } from '../clients/scorer-protocol.ts';
import { EdgeError, type ErrorPayload, isPermanent } from '../common/errors.ts';
import { type Logger, type Metrics, MetricUnit } from '../common/observability.ts';
import { LIBRARY_TAG, LibraryStore, placeInLibrary, RESERVED_UPLOAD_SUFFIX } from '../results/library.ts';
import { ResultStore, type SourceVersion } from '../results/store.ts';
import type { UploadConfig } from './config.ts';

export type RecordStatus = 'scored' | 'rejected' | 'duplicate' | 'ignored';

export interface RecordReport {
  bucket: string;
  key: string;
  status: RecordStatus;
  score?: number;
  tier?: string;
  /** Where it lands among its library's scored images (results/library.ts), when a summary exists. */
  libraryTier?: string;
  error?: ErrorPayload;
  reason?: string;
}

export interface UploadDeps {
  config: UploadConfig;
  objects: ObjectStore;
  scorer: ScorerClient;
  logger: Logger;
  metrics: Metrics;
  /** Which model the scorer runs (cached by the caller); part of the idempotency key. */
  model: () => Promise<ModelInfo>;
}

/** Why a key is not ours to score, or undefined when it is. */
export function ignoreReason(key: string, config: UploadConfig): string | undefined {
  const { resultsPrefix, stagingPrefix, deadLetterPrefix } = config.store;
  for (const own of [resultsPrefix, stagingPrefix, deadLetterPrefix]) {
    if (own && key.startsWith(own)) return `under this service's own prefix ${own}`;
  }
  if (!key.startsWith(config.uploadPrefix)) return `not under the upload prefix ${config.uploadPrefix}`;
  if (key.endsWith(RESERVED_UPLOAD_SUFFIX))
    return `its result would be a library summary (${RESERVED_UPLOAD_SUFFIX})`;
  const lower = key.toLowerCase();
  if (config.uploadSuffixes.length && !config.uploadSuffixes.some((s) => lower.endsWith(s))) {
    return `suffix not among ${config.uploadSuffixes.join(', ')}`;
  }
  return undefined;
}

export async function processObject(
  object: UploadedObject,
  deps: UploadDeps,
  call: CallOptions,
): Promise<RecordReport> {
  const { bucket, key } = object;
  const reason = ignoreReason(key, deps.config);
  if (reason) return { bucket, key, status: 'ignored', reason };
  const results = new ResultStore(deps.objects, deps.config.store.resultsPrefix);
  const source: SourceVersion = { bucket, key, versionId: object.versionId, etag: object.etag };
  const stored = await results.check(source, await deps.model());
  if (stored.duplicate) {
    deps.metrics.addMetric('DuplicateDeliveries', MetricUnit.Count, 1);
    return { bucket, key, status: 'duplicate' };
  }
  const started = performance.now();
  const answer = await deps.scorer.score(
    {
      items: [
        {
          id: key,
          image: { s3: { bucket, key, ...(object.versionId ? { versionId: object.versionId } : {}) } },
          ...(deps.config.cropAspects.length ? { crops: deps.config.cropAspects } : {}),
        },
      ],
    },
    call,
  );
  deps.metrics.addMetric('ScorerLatency', MetricUnit.Milliseconds, performance.now() - started);
  const outcome = answer.outcomes[0];
  if (!outcome) throw new EdgeError('SCORER_FAILED', `The scorer answered no outcome for ${key}`);
  if (!outcome.ok && !isPermanent(outcome.error)) {
    // Ours, not the image's: fail the delivery so it is retried.
    throw new EdgeError(
      'SCORER_FAILED',
      `Scoring s3://${bucket}/${key} failed: ${outcome.error.code}: ${outcome.error.message}`,
    );
  }
  const scored: SourceVersion =
    outcome.ok && outcome.source?.etag ? { ...source, etag: outcome.source.etag } : source;
  const document = results.build(
    scored,
    answer.model,
    outcome.ok ? { ok: true, result: outcome.result } : { ok: false, error: outcome.error },
  );
  // Where it lands in its library as the library's summary stands (a recompute re-tags it as the library
  // changes); no summary yet: no library tier until the first recompute.
  const libraryTier =
    outcome.ok && deps.config.library
      ? placeInLibrary(
          outcome.result.score,
          await new LibraryStore(
            deps.objects,
            deps.config.store.resultsPrefix,
            deps.config.library.layout,
          ).summaryFor(bucket, key),
        )
      : undefined;
  // Tags first, result last: the result document is the commit marker the duplicate check reads. It is
  // written only over what check() saw, so of concurrent deliveries of one event a single one commits
  // (the others wrote the same tags: same bytes, same model).
  await results.tag(document, libraryTier ? { [LIBRARY_TAG]: libraryTier } : {});
  if (!(await results.put(document, stored))) {
    deps.metrics.addMetric('DuplicateDeliveries', MetricUnit.Count, 1);
    return { bucket, key, status: 'duplicate' };
  }
  if (outcome.ok) {
    deps.metrics.addMetric('ImagesScored', MetricUnit.Count, 1);
    for (const [stage, ms] of Object.entries(outcome.result.timings)) {
      deps.metrics.addMetric(`Stage_${stage}`, MetricUnit.Milliseconds, ms);
    }
    return {
      bucket,
      key,
      status: 'scored',
      score: outcome.result.score,
      tier: outcome.result.tier,
      ...(libraryTier ? { libraryTier } : {}),
    };
  }
  deps.metrics.addMetric(`Error_${outcome.error.code}`, MetricUnit.Count, 1);
  return { bucket, key, status: 'rejected', error: outcome.error };
}

/**
 * Processes every created object of the event. Records that fail transiently are retried by failing
 * the whole invocation after the others are done (their writes are idempotent, so a retry skips them).
 */
export async function handleUploadEvent(
  event: unknown,
  deps: UploadDeps,
  call: CallOptions = {},
): Promise<{ records: RecordReport[] }> {
  const records: RecordReport[] = [];
  const failures: string[] = [];
  for (const object of createdObjects(event)) {
    try {
      const report = await processObject(object, deps, call);
      deps.logger.info(`on-upload ${report.status}`, { ...report });
      records.push(report);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      deps.logger.error('on-upload failed; the delivery will be retried', {
        bucket: object.bucket,
        key: object.key,
        error: message,
      });
      deps.metrics.addMetric('DeliveryFailures', MetricUnit.Count, 1);
      failures.push(message);
    }
  }
  if (failures.length) {
    throw new EdgeError(
      'SCORER_UNAVAILABLE',
      `${failures.length} object(s) could not be scored: ${failures.join('; ')}`,
    );
  }
  return { records };
}
