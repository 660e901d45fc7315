/**
 * Durable dead letters for the local stack, and their re-drive.
 *
 * A record goes to S3 under the dead-letter prefix (as an on-failure destination would); when S3 refuses
 * it after a few tries (often the very failure that made the delivery fail), it is written to a local
 * folder instead, so an event never survives only as a log line. `redrive` sends every record's event
 * through the bridge again and, once delivered, moves the record to `redriven/` with a timestamp.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import type { ObjectStore } from '#core/clients/s3.ts';
import { sleep } from '#core/common/time.ts';
import type { DeadLetterRecord, S3EventBridge } from './s3-bridge.ts';

export interface DeadLetterStore {
  objects: ObjectStore;
  bucket: string;
  /** S3 prefix of the records, e.g. dead-letter/on-upload/. */
  prefix: string;
  /** The local fallback folder. */
  dir: string;
}

export interface SinkOptions extends DeadLetterStore {
  /** Tries at S3 before the local file (default 3), with backoffMs * 2^(n-1) between them. */
  attempts?: number;
  backoffMs?: number;
  log: (line: string) => void;
}

const REDRIVEN = 'redriven/';
const stampOf = (iso: string) => iso.replace(/[:.]/g, '-');

/** The bridge's deadLetter callback: S3 with retries, then a local file. Throws only if both fail. */
export function deadLetterSink(o: SinkOptions): (record: DeadLetterRecord) => Promise<void> {
  const attempts = o.attempts ?? 3;
  return async (record) => {
    const name = `${stampOf(record.timestamp)}-${randomUUID()}.json`;
    let last: unknown;
    for (let n = 1; n <= attempts; n++) {
      try {
        await o.objects.putJson({ bucket: o.bucket, key: `${o.prefix}${name}` }, record);
        return;
      } catch (error) {
        last = error;
        if (n < attempts) await sleep((o.backoffMs ?? 200) * 2 ** (n - 1));
      }
    }
    await mkdir(o.dir, { recursive: true });
    const file = join(o.dir, name);
    await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
    o.log(
      `S3 refused the dead-letter record ${attempts} times (${(last as Error).message}); kept it in ${file}`,
    );
  };
}

export interface DeadLetterEntry {
  /** s3://bucket/key or the local file's path. */
  location: string;
  record: DeadLetterRecord;
  /** Moves the record under redriven/ (S3 prefix or local folder), stamped with the re-drive time. */
  markRedriven: (at: Date) => Promise<string>;
}

/**
 * Every record not yet re-driven, S3 first, then the local folder, each oldest first. A record in both
 * (one name: an S3 write whose answer was lost landed after all, and the sink also kept the local file) is
 * listed once, as the S3 one; re-driving it moves both.
 */
export async function listDeadLetters(s: DeadLetterStore): Promise<DeadLetterEntry[]> {
  const entries: DeadLetterEntry[] = [];
  const inS3 = new Map<string, DeadLetterEntry>();
  let token: string | undefined;
  do {
    const page = await s.objects.client.send(
      new ListObjectsV2Command({ Bucket: s.bucket, Prefix: s.prefix, ContinuationToken: token }),
    );
    for (const { Key: key } of page.Contents ?? []) {
      if (!key || key.startsWith(`${s.prefix}${REDRIVEN}`)) continue;
      const record = await s.objects.getJson<DeadLetterRecord>({ bucket: s.bucket, key });
      if (!record) continue;
      const entry: DeadLetterEntry = {
        location: `s3://${s.bucket}/${key}`,
        record,
        markRedriven: async (at) => {
          const target = `${s.prefix}${REDRIVEN}${stampOf(at.toISOString())}-${key.slice(s.prefix.length)}`;
          await s.objects.putJson(
            { bucket: s.bucket, key: target },
            { ...record, redrivenAt: at.toISOString() },
          );
          await s.objects.client.send(new DeleteObjectCommand({ Bucket: s.bucket, Key: key }));
          return `s3://${s.bucket}/${target}`;
        },
      };
      entries.push(entry);
      inS3.set(key.slice(s.prefix.length), entry);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);

  const names = (await readdir(s.dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
  for (const name of names) {
    const file = join(s.dir, name);
    const record = JSON.parse(await readFile(file, 'utf8')) as DeadLetterRecord;
    const markRedriven = async (at: Date) => {
      const folder = join(s.dir, REDRIVEN);
      await mkdir(folder, { recursive: true });
      const target = join(folder, `${stampOf(at.toISOString())}-${name}`);
      await writeFile(file, `${JSON.stringify({ ...record, redrivenAt: at.toISOString() }, null, 2)}\n`);
      await rename(file, target);
      return target;
    };
    const twin = inS3.get(name);
    if (twin) {
      const markS3 = twin.markRedriven;
      twin.markRedriven = async (at) => {
        const to = await markS3(at);
        await markRedriven(at);
        return to;
      };
      continue;
    }
    entries.push({ location: file, record, markRedriven });
  }
  return entries;
}

export interface RedriveReport {
  redriven: { from: string; to: string }[];
  failed: string[];
}

/**
 * Re-sends each dead-lettered event through the bridge (same retries, no new dead letter); a delivered
 * one is marked, a failed one stays where it is for the next re-drive.
 */
export async function redrive(
  store: DeadLetterStore,
  bridge: Pick<S3EventBridge, 'deliver'>,
  log: (line: string) => void = () => {},
): Promise<RedriveReport> {
  const report: RedriveReport = { redriven: [], failed: [] };
  for (const entry of await listDeadLetters(store)) {
    const delivery = await bridge.deliver(entry.record.requestPayload as S3Event, { deadLetter: false });
    if (delivery.outcome === 'delivered') {
      const to = await entry.markRedriven(new Date());
      report.redriven.push({ from: entry.location, to });
      log(`re-driven ${delivery.keys.join(', ')}: ${entry.location} → ${to}`);
    } else {
      report.failed.push(entry.location);
      log(`re-drive of ${delivery.keys.join(', ')} failed again; ${entry.location} stays`);
    }
  }
  return report;
}
