/**
 * Whole buckets (issue 11, part 4), counted: N small images already in the bucket (no event
 * notification ever saw them) are scored by `mmlq-edge bucket backfill` through the local stack: the CLI
 * creates an S3 Batch Operations job on the stand-in (tools/local/batch-operations.ts), which lists the
 * prefix and invokes the real backfill function (on-upload's code on serverless-offline) per object,
 * which calls the real scorer. The job is cancelled midway and started again (resume), then run once
 * more (idempotent); every object ends with exactly one result document, written once, and the bad
 * images and the missing object are in the completion reports, never lost.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '#tools/local/stack.ts';
import { runCliCaptured } from '../helpers/cli.ts';
import { solid } from '../helpers/images.ts';
import { startTinyStack, type TinyStack } from '../helpers/stack.ts';

/** Objects in the bucket; every BAD_EVERY-th is a truncated JPEG (a permanent failure). */
const N = 1000;
const BAD_EVERY = 125;
const BUCKET = 'mmlq-backfill';
const PREFIX = 'uploads/bulk/';
const ACCOUNT = '000000000000';

let running: TinyStack;
let stack: Stack;
let s3: S3Client;
/** Result documents written, per key (PUT events of s3rver under results/). */
const resultWrites = new Map<string, number>();
const keys: string[] = [];
const bad = new Set<string>();
const stackLog: string[] = [];

function keyOf(i: number): string {
  // A space and a plus in some keys: they travel URL-encoded through the job and its report.
  return i % 500 === 7 ? `${PREFIX}red flower+${i}.jpg` : `${PREFIX}img-${String(i).padStart(5, '0')}.jpg`;
}

beforeAll(async () => {
  running = await startTinyStack('backfill', {
    bucket: BUCKET,
    // The objects were there before the stack: no notifications, only the backfill scores them.
    notifications: false,
    batchConcurrency: 4,
    retryBackoffMs: 200,
    log: (line) => stackLog.push(line),
  });
  stack = running.stack;
  s3 = stack.s3;
  stack.onS3Event((event: S3Event) => {
    for (const r of event.Records) {
      const key = r.s3.object.key; // s3rver's events carry raw keys
      if (r.eventName.startsWith('ObjectCreated:') && key.startsWith('results/'))
        resultWrites.set(key, (resultWrites.get(key) ?? 0) + 1);
    }
  });
  const images = await Promise.all(
    Array.from({ length: 64 }, (_, c) =>
      solid(16, 16, { r: c * 4, g: 255 - c * 4, b: (c * 37) % 256 }, 'jpeg'),
    ),
  );
  for (let i = 0; i < N; i++) {
    const key = keyOf(i);
    keys.push(key);
    if (i % BAD_EVERY === 3) bad.add(key);
  }
  // Not an image suffix: the job's manifest leaves it out.
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}notes.txt`, Body: 'not an image' }));
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < keys.length) {
        const i = next++;
        const jpeg = images[i % images.length]!;
        const body = bad.has(keys[i]!) ? jpeg.subarray(0, jpeg.length >> 1) : jpeg;
        await s3.send(
          new PutObjectCommand({ Bucket: BUCKET, Key: keys[i], Body: body, ContentType: 'image/jpeg' }),
        );
      }
    }),
  );
}, 300_000);

afterAll(async () => {
  await running?.stop();
});

/** The CLI as a user runs it, pointed at the local stack. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return runCliCaptured(
    [
      'bucket',
      ...args,
      '--account-id',
      ACCOUNT,
      '--endpoint',
      stack.batchOperationsEndpoint,
      '--s3-endpoint',
      stack.s3Endpoint,
    ],
    process.cwd(),
  );
}

const backfillArgs = () => [
  '--bucket',
  BUCKET,
  '--function',
  `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${stack.functionName('backfill')}`,
  '--role',
  `arn:aws:iam::${ACCOUNT}:role/mmlq-edge-local-batch-operations`,
];

/** `bucket backfill` of a prefix or a manifest, followed to its end (--watch), its JSON status parsed. */
async function watchedBackfill(...source: string[]): Promise<{ code: number; err: string; status: Status }> {
  const run = await cli('backfill', ...backfillArgs(), ...source, '--watch', '--interval', '1', '--json');
  return { code: run.code, err: run.err, status: JSON.parse(run.out) as Status };
}

interface Status {
  job: { id: string; status: string; total: number; succeeded: number; failed: number };
  report: {
    scored: number;
    duplicate: number;
    other: number;
    failed: number;
    failures: { key: string; reason: string }[];
  } | null;
}

async function status(jobId: string, ...extra: string[]): Promise<Status> {
  const run = await cli('status', jobId, '--json', ...extra);
  expect(run.err).not.toMatch(/^error/m);
  return JSON.parse(run.out) as Status;
}

async function resultKeys(): Promise<string[]> {
  // ListObjects (v1): s3rver's truncated v2 listings fail on Node's OpenSSL 3 (DES continuation tokens).
  const found: string[] = [];
  let marker: string | undefined;
  do {
    const out = await s3.send(
      new ListObjectsCommand({ Bucket: BUCKET, Prefix: `results/${PREFIX}`, Marker: marker }),
    );
    found.push(...(out.Contents ?? []).map((o) => o.Key!));
    marker = out.IsTruncated ? out.Contents?.at(-1)?.Key : undefined;
  } while (marker);
  return found.sort();
}

describe('mmlq-edge bucket backfill (S3 Batch Operations stand-in, real functions)', () => {
  let firstJob: Status;

  it('scores part of the prefix, is cancelled midway, and reports exactly what it did', async () => {
    // Prepare
    process.env['AWS_ACCESS_KEY_ID'] = 'S3RVER';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'S3RVER';
    // Act: start, wait until a quarter is done, cancel, follow to the end.
    const started = await cli('backfill', ...backfillArgs(), '--prefix', PREFIX, '--json');
    expect(started.code, started.err).toBe(0);
    const { jobId } = JSON.parse(started.out) as { jobId: string };
    let progress = await status(jobId);
    while (progress.job.succeeded + progress.job.failed < N / 4) {
      expect(progress.job.status, JSON.stringify(progress.job)).not.toMatch(/Failed|Complete|Cancelled/);
      await new Promise((r) => setTimeout(r, 500));
      progress = await status(jobId);
    }
    const cancelled = await cli('cancel', jobId, '--json');
    expect(cancelled.code, cancelled.err).toBe(0);
    firstJob = await status(jobId, '--watch', '--interval', '1');
    // Assess
    expect(firstJob.job.status).toBe('Cancelled');
    expect(firstJob.job.total).toBe(N);
    const done = firstJob.job.succeeded + firstJob.job.failed;
    expect(done).toBeGreaterThanOrEqual(N / 4);
    expect(done).toBeLessThan(N);
    const report = firstJob.report!;
    expect(report.scored + report.failed).toBe(done);
    expect(report.duplicate).toBe(0);
    // Every task done has its result document (bad images too: an error result), and no other does.
    expect((await resultKeys()).length).toBe(done);
    for (const f of report.failures) {
      expect(bad.has(f.key)).toBe(true);
      expect(f.reason).toMatch(/^PermanentFailure: IMAGE_CORRUPT/);
    }
  }, 600_000);

  it('resumes: a new job scores the rest; what was done answers duplicate; every object has one result', async () => {
    // Act
    const { status: second, ...run } = await watchedBackfill('--prefix', PREFIX);
    // Assess: each object counted once across both jobs; exit 1 when tasks failed (the bad images).
    expect(second.job.status, JSON.stringify(second.job)).toBe('Complete');
    const first = firstJob.report!;
    const report = second.report!;
    expect(run.code, run.err).toBe(report.failed > 0 ? 1 : 0);
    expect(report.duplicate).toBe(first.scored + first.failed);
    expect(first.scored + report.scored).toBe(N - bad.size);
    const failedKeys = [...first.failures, ...report.failures].map((f) => f.key).sort();
    expect(failedKeys).toEqual([...bad].sort());
    const results = await resultKeys();
    expect(results).toEqual(keys.map((k) => `results/${k}.json`).sort());
    // Written once each: nothing was scored and committed twice.
    expect([...resultWrites.values()].filter((n) => n !== 1)).toEqual([]);
    expect(resultWrites.size).toBe(N);
    // A result with the key that has a space and a plus, scored (not an error).
    const doc = JSON.parse(
      await (
        await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `results/${keyOf(7)}.json` }))
      ).Body!.transformToString(),
    ) as { ok: boolean; source: { key: string } };
    expect(doc).toMatchObject({ ok: true, source: { key: `${PREFIX}red flower+7.jpg` } });
  }, 600_000);

  it('is idempotent: running it again scores nothing and writes nothing', async () => {
    const { status: third, ...run } = await watchedBackfill('--prefix', PREFIX);
    expect(run.code, run.err).toBe(0);
    expect(third.report).toEqual({ scored: 0, duplicate: N, other: 0, failed: 0, failures: [] });
    expect(resultWrites.size).toBe(N);
    expect([...resultWrites.values()].every((n) => n === 1)).toBe(true);
  }, 600_000);

  it('takes a CSV manifest; an object gone since is a failed task in the report, not a result', async () => {
    // Prepare
    const csv = [keyOf(0), keyOf(7), `${PREFIX}gone.jpg`]
      .map((k) => `${BUCKET},${encodeURIComponent(k).replace(/%2F/g, '/').replace(/%20/g, '+')}`)
      .join('\n');
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'backfill/manifests/some.csv', Body: `${csv}\n` }),
    );
    // Act
    const { status: fourth, ...run } = await watchedBackfill(
      '--manifest',
      `s3://${BUCKET}/backfill/manifests/some.csv`,
    );
    // Assess
    expect(run.code).toBe(1);
    expect(fourth.job).toMatchObject({ status: 'Complete', total: 3, succeeded: 2, failed: 1 });
    expect(fourth.report!.duplicate).toBe(2);
    expect(fourth.report!.failures).toEqual([
      { key: `${PREFIX}gone.jpg`, reason: expect.stringMatching(/^PermanentFailure: IMAGE_NOT_FOUND/) },
    ]);
    expect(resultWrites.size).toBe(N);
  }, 120_000);

  it('takes an S3 Inventory report (manifest.json over gzipped CSV files): scores what is new, skips what is done', async () => {
    // Prepare: two objects uploaded since (no notifications here), and an inventory report as S3
    // writes one (destination prefix backfill/inventory: the only place the job's role may read).
    const fresh = [`${PREFIX}since-1.jpg`, `${PREFIX}since two+.jpg`];
    const jpeg = await solid(16, 16, { r: 200, g: 40, b: 90 }, 'jpeg');
    for (const key of fresh) {
      await s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: jpeg, ContentType: 'image/jpeg' }),
      );
    }
    // Inventory CSV: every field quoted, keys URL-encoded, no header; the columns are in fileSchema.
    const encoded = (k: string) => encodeURIComponent(k).replace(/%2F/g, '/').replace(/%20/g, '+');
    const rows = [...fresh, keyOf(1)].map(
      (k) => `"${BUCKET}","${encoded(k)}","${jpeg.length}","2026-11-30T00:00:00.000Z"`,
    );
    const dataKey = `backfill/inventory/${BUCKET}/all-objects/data/5f3c1a2e.csv.gz`;
    const data = gzipSync(`${rows.join('\n')}\n`);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: dataKey, Body: data }));
    const manifest = {
      sourceBucket: BUCKET,
      destinationBucket: `arn:aws:s3:::${BUCKET}`,
      version: '2016-11-30',
      creationTimestamp: '1764460800000',
      fileFormat: 'CSV',
      fileSchema: 'Bucket, Key, Size, LastModifiedDate',
      files: [{ key: dataKey, size: data.length, MD5checksum: createHash('md5').update(data).digest('hex') }],
    };
    const manifestKey = `backfill/inventory/${BUCKET}/all-objects/2026-11-30T01-00Z/manifest.json`;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: manifestKey, Body: JSON.stringify(manifest) }));
    // Act
    const { status, ...run } = await watchedBackfill('--manifest', `s3://${BUCKET}/${manifestKey}`);
    // Assess
    expect(run.code, run.err).toBe(0);
    expect(status.job).toMatchObject({ status: 'Complete', total: 3, succeeded: 3, failed: 0 });
    expect(status.report).toEqual({ scored: 2, duplicate: 1, other: 0, failed: 0, failures: [] });
    const written = [...resultWrites.keys()].filter((k) =>
      fresh.some((f) => k.includes(f.slice(PREFIX.length))),
    );
    expect(written).toHaveLength(2);
    expect(resultWrites.size).toBe(N + 2);
  }, 120_000);

  it('says what is wrong with a command that cannot start a job', async () => {
    const noRole = await runCliCaptured(
      ['bucket', 'backfill', '--bucket', BUCKET, '--account-id', ACCOUNT, '--function', 'f'],
      process.cwd(),
    );
    expect(noRole).toMatchObject({ code: 2, err: 'error: --role is required (or set MMLQ_BACKFILL_ROLE)\n' });
    const badAccount = await runCliCaptured(
      ['bucket', 'status', 'job-1', '--account-id', '12'],
      process.cwd(),
    );
    expect(badAccount).toMatchObject({
      code: 2,
      err: 'error: Expected a 12-digit AWS account id for --account-id but received 12\n',
    });
    const unknown = await cli('status', 'no-such-job');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/^error: NoSuchJob: /);
  });
});
