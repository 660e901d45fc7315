/**
 * on-upload for S3 Batch Operations (the bucket backfill, docs/DEPLOY.md "Score a whole bucket"): a
 * LambdaInvoke job with invocation schema 2.0 sends tasks (bucket name, URL-encoded key, version id);
 * each is scored exactly as an upload is (processObject: same idempotency key, same result document and
 * tags) and answered per task:
 *
 * - Succeeded: scored, or already scored for this object version and model (`duplicate`: a re-run or a
 *   resumed job costs a HEAD per object, no scoring and no write).
 * - PermanentFailure: the object cannot be scored (a bad image: its error result and error tag are written
 *   as for an upload; an object gone since the manifest was made; a key outside the upload prefix or of a
 *   suffix on-upload does not score). The completion report lists these with the reason.
 * - TemporaryFailure: ours (the scorer or S3 failed): Batch Operations retries the task.
 */
import { z } from 'zod';
import { decodeEventKey } from '../clients/s3-event.ts';
import type { CallOptions } from '../clients/scorer-client.ts';
import { type ErrorPayload, InvalidArgumentError } from '../common/errors.ts';
import { MetricUnit } from '../common/observability.ts';
import { parseWith } from '../common/validate.ts';
import { processObject, type RecordReport, type UploadDeps } from './uploads.ts';

export type TaskResultCode = 'Succeeded' | 'TemporaryFailure' | 'PermanentFailure';

export interface BatchTaskResult {
  taskId: string;
  resultCode: TaskResultCode;
  resultString: string;
}

export interface BatchResponse {
  invocationSchemaVersion: '2.0';
  treatMissingKeysAs: 'PermanentFailure';
  invocationId: string;
  results: BatchTaskResult[];
}

const batchEvent = z.object({
  invocationSchemaVersion: z.literal('2.0'),
  invocationId: z.string().min(1),
  job: z.object({ id: z.string().min(1) }).passthrough(),
  tasks: z
    .array(
      z.object({
        taskId: z.string().min(1),
        s3Bucket: z.string().min(1),
        s3Key: z.string().min(1).max(3072),
        s3VersionId: z.string().min(1).nullish(),
      }),
    )
    .min(1),
});

export type BatchEvent = z.infer<typeof batchEvent>;

/** Whether an event is an S3 Batch Operations invocation (any schema version), not an S3 notification. */
export function isBatchOperationsEvent(event: unknown): boolean {
  return typeof event === 'object' && event !== null && 'invocationSchemaVersion' in event;
}

/** Batch Operations keeps resultString (at most 1 KiB in the completion report) short. */
const clip = (text: string): string => (text.length > 900 ? `${text.slice(0, 897)}...` : text);

function answer(report: RecordReport): { resultCode: TaskResultCode; resultString: string } {
  switch (report.status) {
    case 'scored':
      return { resultCode: 'Succeeded', resultString: `scored ${report.score} ${report.tier}` };
    case 'duplicate':
      return {
        resultCode: 'Succeeded',
        resultString: 'duplicate: already scored for this version and model',
      };
    case 'rejected': {
      const error = report.error as ErrorPayload;
      return { resultCode: 'PermanentFailure', resultString: `${error.code}: ${error.message}` };
    }
    case 'ignored':
      return { resultCode: 'PermanentFailure', resultString: `not scored: ${report.reason}` };
  }
}

/** Scores one task; never throws (a failure is the task's result). */
async function runTask(
  task: BatchEvent['tasks'][number],
  deps: UploadDeps,
  call: CallOptions,
): Promise<BatchTaskResult> {
  const bucket = task.s3Bucket;
  let key: string;
  try {
    key = decodeEventKey(task.s3Key);
  } catch {
    return {
      taskId: task.taskId,
      resultCode: 'PermanentFailure',
      resultString: 'INVALID_ARGUMENT: malformed key',
    };
  }
  const versionId = task.s3VersionId ?? undefined;
  try {
    // Batch Operations sends no ETag: read it (the idempotency key of unversioned objects).
    const head = await deps.objects.head({ bucket, key, versionId });
    if (!head) {
      return {
        taskId: task.taskId,
        resultCode: 'PermanentFailure',
        resultString: `IMAGE_NOT_FOUND: s3://${bucket}/${key} does not exist (deleted since the manifest was made?)`,
      };
    }
    const report = await processObject(
      {
        bucket,
        key,
        versionId: versionId ?? head.versionId,
        etag: head.etag,
        size: head.size,
        eventName: 'BatchOperations:LambdaInvoke',
        eventTime: new Date().toISOString(),
      },
      deps,
      call,
    );
    deps.logger.info(`on-upload (batch) ${report.status}`, { ...report, taskId: task.taskId });
    return { taskId: task.taskId, ...answer(report) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    deps.logger.error('on-upload (batch) failed; Batch Operations will retry the task', {
      bucket,
      key,
      taskId: task.taskId,
      error: message,
    });
    deps.metrics.addMetric('DeliveryFailures', MetricUnit.Count, 1);
    return { taskId: task.taskId, resultCode: 'TemporaryFailure', resultString: clip(message) };
  }
}

/**
 * Answers a Batch Operations invocation (schema 2.0). A malformed invocation is refused with a typed
 * error (the invocation fails, and Batch Operations marks its tasks failed); every task of a well-formed
 * one gets a result, in order.
 */
export async function handleBatchEvent(
  event: unknown,
  deps: UploadDeps,
  call: CallOptions = {},
): Promise<BatchResponse> {
  if (isBatchOperationsEvent(event) && (event as BatchEvent).invocationSchemaVersion !== '2.0') {
    throw new InvalidArgumentError(
      `Expected an S3 Batch Operations invocation of schema 2.0 but received schema ${JSON.stringify((event as BatchEvent).invocationSchemaVersion)}: create the job with InvocationSchemaVersion 2.0`,
    );
  }
  const parsed = parseWith(batchEvent, event, 'an S3 Batch Operations invocation (schema 2.0)', {
    whole: 'the event',
  });
  const results: BatchTaskResult[] = [];
  // Batch Operations sends one task per invocation today; more are answered one after another.
  for (const task of parsed.tasks) {
    const result = await runTask(task, deps, call);
    results.push({ ...result, resultString: clip(result.resultString) });
  }
  return {
    invocationSchemaVersion: '2.0',
    treatMissingKeysAs: 'PermanentFailure',
    invocationId: parsed.invocationId,
    results,
  };
}
