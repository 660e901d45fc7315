/**
 * The drop folder of `npm start`: each file that lands (and stops changing) is uploaded under the upload
 * prefix, and its score line (or error) is printed once its result JSON appears. A file whose suffix the
 * on-upload function would ignore is not uploaded; it is reported as ignored.
 */
import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { weakest } from '#core/cli/output.ts';
import { sleep } from '#core/common/time.ts';
import { awaitResult } from './results.ts';
import type { S3EventBridge } from './s3-bridge.ts';

export interface DropOptions {
  dir: string;
  s3: S3Client;
  bucket: string;
  uploadPrefix: string;
  /** Suffixes on-upload scores (its UPLOAD_SUFFIXES), lower case with the dot. */
  suffixes: readonly string[];
  model: string;
  bridge: S3EventBridge;
  print: (line: string) => void;
  resultTimeoutMs?: number;
}

export interface DropWatcher {
  /** Resolves when every file seen so far is uploaded and its line printed. */
  settled: () => Promise<void>;
  close: () => void;
}

export async function watchDrop(o: DropOptions): Promise<DropWatcher> {
  const sent = new Map<string, number>();
  const busy = new Set<string>();
  const ignored = new Set<string>();
  const pending = new Set<Promise<void>>();

  const track = (work: Promise<void>) => {
    const p = work.finally(() => pending.delete(p));
    pending.add(p);
  };

  async function upload(name: string): Promise<void> {
    const path = join(o.dir, name);
    if (busy.has(name)) return;
    busy.add(name);
    try {
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile() || sent.get(name) === st.mtimeMs) return;
      if (!o.suffixes.some((s) => name.toLowerCase().endsWith(s))) {
        if (!ignored.has(name)) o.print(`ignored: ${name} (not an image suffix: ${o.suffixes.join(', ')})`);
        ignored.add(name);
        return;
      }
      // Wait until the file stops changing (a copy in progress).
      await sleep(250);
      const now = await stat(path).catch(() => undefined);
      if (!now) return;
      if (now.size !== st.size || now.mtimeMs !== st.mtimeMs) {
        setTimeout(() => track(upload(name)), 250);
        return;
      }
      sent.set(name, st.mtimeMs);
      const key = `${o.uploadPrefix}${basename(name)}`;
      const since = o.bridge.reports.length;
      const put = await o.s3.send(
        new PutObjectCommand({ Bucket: o.bucket, Key: key, Body: await readFile(path) }),
      );
      o.print(`${name} → s3://${o.bucket}/${key}`);
      const { outcome } = await awaitResult({
        s3: o.s3,
        bucket: o.bucket,
        key,
        etag: put.ETag ?? '',
        model: o.model,
        bridge: { reports: o.bridge.reports, since },
        id: name,
        ...(o.resultTimeoutMs ? { timeoutMs: o.resultTimeoutMs } : {}),
      });
      o.print(
        outcome.ok
          ? [
              name,
              `score ${outcome.result.score.toFixed(2)}`,
              `std ${outcome.result.std.toFixed(2)}`,
              `pct ${outcome.result.percentile.toFixed(1)}`,
              outcome.result.tier,
              outcome.result.mode,
              weakest(outcome.result.attributes),
            ]
              .filter(Boolean)
              .join('  ')
          : `${name}  failed: ${outcome.error.code}: ${outcome.error.message}`,
      );
    } catch (error) {
      o.print(`${name}  failed: ${(error as Error).message}`);
    } finally {
      busy.delete(name);
    }
  }

  const watcher: FSWatcher = watch(o.dir, (_, name) => {
    if (name) track(upload(name));
  });
  for (const name of await readdir(o.dir)) track(upload(name));
  return {
    settled: async () => {
      while (pending.size) await Promise.all([...pending]);
    },
    close: () => watcher.close(),
  };
}
