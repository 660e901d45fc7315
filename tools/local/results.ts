/**
 * What `npm start` prints about an upload: waits for the result JSON of exactly what was uploaded (the
 * same ETag, the model the stack runs) or for the bridge to dead-letter its event, and turns either into
 * an Outcome for the CLI's table. A result left by an earlier run (other bytes or another model) is not
 * taken for this one.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Outcome } from '#core/cli/output.ts';
import { encodeEventKey } from '#core/clients/s3-event.ts';
import { sleep } from '#core/common/time.ts';
import type { StoredResult } from '#core/results/store.ts';
import type { S3EventBridge } from './s3-bridge.ts';

export interface AwaitResultOptions {
  s3: S3Client;
  bucket: string;
  /** The uploaded object's key and the ETag its PutObject answered. */
  key: string;
  etag: string;
  /** The model the stack runs: a result by another model is an earlier run's. */
  model: string;
  resultsPrefix?: string;
  /** Reports after this index are this upload's (bridge.reports.length before the PutObject). */
  bridge?: { reports: S3EventBridge['reports']; since: number };
  /** The outcome's id (default: the key). */
  id?: string;
  timeoutMs?: number;
  pollMs?: number;
}

export interface AwaitedResult {
  outcome: Outcome;
  model?: { name: string; version: string };
}

const unquote = (etag: string | undefined): string => (etag ?? '').replace(/^"|"$/g, '');

export async function awaitResult(o: AwaitResultOptions): Promise<AwaitedResult> {
  const id = o.id ?? o.key;
  const resultKey = `${o.resultsPrefix ?? 'results/'}${o.key}.json`;
  const eventKey = encodeEventKey(o.key);
  const deadline = Date.now() + (o.timeoutMs ?? 180_000);
  for (;;) {
    const stored = await o.s3
      .send(new GetObjectCommand({ Bucket: o.bucket, Key: resultKey }))
      .then(async (out) => JSON.parse(await out.Body!.transformToString()) as StoredResult)
      .catch(() => undefined);
    if (stored && unquote(stored.source.etag) === unquote(o.etag) && stored.model.name === o.model) {
      return {
        outcome: stored.ok ? { id, ok: true, result: stored.result } : { id, ok: false, error: stored.error },
        model: stored.model,
      };
    }
    const dead = o.bridge?.reports
      .slice(o.bridge.since)
      .find((r) => r.outcome === 'dead-lettered' && r.keys.includes(eventKey));
    if (dead) {
      return {
        outcome: {
          id,
          ok: false,
          error: {
            code: 'DEAD_LETTERED',
            message: `delivery failed ${dead.attempts} times; the event is in the dead-letter records (npm run redrive)`,
          },
        },
      };
    }
    if (Date.now() > deadline) {
      return {
        outcome: {
          id,
          ok: false,
          error: {
            code: 'TIMEOUT',
            message: `no result for this upload at s3://${o.bucket}/${resultKey} after ${Math.round((o.timeoutMs ?? 180_000) / 1000)} s`,
          },
        },
      };
    }
    await sleep(o.pollMs ?? 200);
  }
}
