/**
 * Library tiers on S3 through the local stack (issue 9, part 4: "top" = the best N % of a bucket prefix):
 * images uploaded into two libraries (LIBRARY_DEPTH=1: uploads/<folder>/) are scored by the real
 * on-upload and scorer functions on serverless-offline; the real libraryTiers function (what the schedule
 * runs) ranks each library from the stored result documents in the local S3, writes its summary and tags
 * every image with its library tier; a new upload is placed against the summary by on-upload at once; the
 * CLI (`mmlq-edge bucket tiers`) finds nothing changed, then re-tags everything with --full; an image
 * deleted from the bucket leaves its library's ranking at the next run (its result stays).
 */
import { InvokeCommand } from '@aws-sdk/client-lambda';
import {
  DeleteObjectCommand,
  GetObjectTaggingCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectStore } from '#core/clients/s3.ts';
import {
  LIBRARY_TAG,
  type LibrarySummary,
  libraryTierOf,
  placeInLibrary,
  type RecomputeReport,
} from '#core/results/library.ts';
import type { StoredResult } from '#core/results/store.ts';
import type { Stack } from '#tools/local/stack.ts';
import { runCliCaptured } from '../helpers/cli.ts';
import { solid } from '../helpers/images.ts';
import { eventually } from '../helpers/poll.ts';
import { startTinyStack, type TinyStack } from '../helpers/stack.ts';

const BUCKET = 'mmlq-library';
const LIBRARIES = { 'uploads/a/': 12, 'uploads/b/': 5 } as const;
const SHARES = { top: 10, good: 35, average: 75 };

let running: TinyStack;
let stack: Stack;
let s3: S3Client;
let objects: ObjectStore;
const stackLog: string[] = [];

/** A distinct image per (library, index): the tiny model scores them apart. */
const image = (library: number, i: number) =>
  solid(24, 16, { r: (i * 53 + library * 101) % 256, g: (i * 19) % 256, b: 255 - ((i * 71) % 256) }, 'jpeg');

async function upload(key: string, body: Buffer) {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: 'image/jpeg' }));
}

const result = (key: string) => objects.getJson<StoredResult>({ bucket: BUCKET, key: `results/${key}.json` });
const summary = (library: string) =>
  objects.getJson<LibrarySummary>({ bucket: BUCKET, key: `results/${library}.mmlq-library.json` });
async function libraryTag(key: string): Promise<string | undefined> {
  const out = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }));
  return out.TagSet?.find((t) => t.Key === LIBRARY_TAG)?.Value;
}

/** The libraryTiers function invoked as the schedule invokes it (serverless-offline's Lambda endpoint). */
async function runSchedule(): Promise<RecomputeReport> {
  const out = await stack.lambda.send(
    new InvokeCommand({
      FunctionName: stack.functionName('library-tiers'),
      InvocationType: 'RequestResponse',
      Payload: JSON.stringify({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }),
    }),
  );
  const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
  expect(out.FunctionError, text).toBeUndefined();
  return JSON.parse(text) as RecomputeReport;
}

/** Each key's score from its stored result, ranked by the library rule: what its tag must say. */
async function expectedTiers(keys: readonly string[]): Promise<Map<string, string>> {
  const scores = await Promise.all(
    keys.map(async (k) => {
      const doc = await result(k);
      if (!doc?.ok) throw new Error(`no scored result for ${k}`);
      return doc.result.score;
    }),
  );
  return new Map(
    keys.map((k, i) => [k, libraryTierOf(scores.filter((s) => s > scores[i]!).length, keys.length, SHARES)]),
  );
}

/** `mmlq-edge bucket tiers` against the local S3 (credentials from the environment, as the AWS CLI takes them). */
function cli(...args: string[]) {
  process.env['AWS_ACCESS_KEY_ID'] = 'S3RVER';
  process.env['AWS_SECRET_ACCESS_KEY'] = 'S3RVER';
  return runCliCaptured(
    ['bucket', 'tiers', '--bucket', BUCKET, '--depth', '1', '--s3-endpoint', stack.s3Endpoint, ...args],
    process.cwd(),
  );
}

/** The image of b/ the deletion test removed. */
let deleted: string;

const modelOf = (doc: StoredResult | undefined) => `${doc?.model.name}@${doc?.model.version}`;

const keysOf = (library: string, n: number) => Array.from({ length: n }, (_, i) => `${library}img-${i}.jpg`);

beforeAll(async () => {
  running = await startTinyStack('library', {
    bucket: BUCKET,
    retryBackoffMs: 200,
    env: { LIBRARY_DEPTH: '1' },
    log: (line) => stackLog.push(line),
  });
  stack = running.stack;
  s3 = stack.s3;
  objects = new ObjectStore(s3);
  for (const [l, [library, n]] of Object.entries(LIBRARIES).entries()) {
    for (const [i, key] of keysOf(library, n).entries()) await upload(key, await image(l, i));
  }
  const all = Object.entries(LIBRARIES).flatMap(([library, n]) => keysOf(library, n));
  await eventually(
    'every upload scored',
    async () => ((await Promise.all(all.map(result))).every((d) => d?.ok) ? true : undefined),
    240_000,
    500,
  );
}, 400_000);

afterAll(async () => {
  await running?.stop();
});

describe('library tiers through the local stack', () => {
  it('the schedule ranks each library from its stored results and tags every image with its library tier', async () => {
    // Before any summary, on-upload had nothing to place against: no library tier yet.
    expect(await libraryTag('uploads/a/img-0.jpg')).toBeUndefined();
    const report = await runSchedule();
    const model = modelOf(await result('uploads/a/img-0.jpg'));
    expect(report.libraries).toEqual([
      {
        library: 'uploads/a/',
        count: 12,
        read: 12,
        retagged: 12,
        gone: 0,
        orphaned: 0,
        unchanged: false,
        models: { [model]: 12 },
      },
      {
        library: 'uploads/b/',
        count: 5,
        read: 5,
        retagged: 5,
        gone: 0,
        orphaned: 0,
        unchanged: false,
        models: { [model]: 5 },
      },
    ]);
    for (const [library, n] of Object.entries(LIBRARIES)) {
      const keys = keysOf(library, n);
      const want = await expectedTiers(keys);
      for (const key of keys) expect(await libraryTag(key), key).toBe(want.get(key));
      const s = await summary(library);
      expect(s).toMatchObject({ bucket: BUCKET, library, count: n, shares: SHARES, retagged: true });
      expect(s!.models).toEqual({ 'tiny@1.0.0': n });
      expect(s!.percentiles).toHaveLength(101);
      // The best image of each library is top, whatever the model thinks of it; the tiny model scores
      // the images apart, so the ranking is not one tie.
      expect([...want.values()]).toContain('top');
      expect(new Set(want.values()).size).toBeGreaterThanOrEqual(3);
    }
  }, 120_000);

  it('on-upload places a new image against its library summary at once', async () => {
    const key = 'uploads/a/new.jpg';
    await upload(key, await image(7, 3));
    const doc = await eventually('the new upload scored', () => result(key), 120_000, 300);
    expect(doc.ok).toBe(true);
    const s = await summary('uploads/a/');
    const placed = placeInLibrary(doc.ok ? doc.result.score : Number.NaN, s);
    expect(placed).toBeDefined();
    expect(await libraryTag(key)).toBe(placed);
    // The model's own tag is still there beside it.
    const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }));
    expect(tags.TagSet?.map((t) => t.Key).sort()).toEqual([
      'aesthetic-library-tier',
      'aesthetic-model',
      'aesthetic-score',
      'aesthetic-tier',
    ]);
  }, 150_000);

  it('a second run ranks only the changed library; the CLI then finds nothing changed, and --full re-tags all', async () => {
    const report = await runSchedule();
    // a/ has one new result: only it is read (the index has the others' scores); b/ is skipped.
    expect(report.libraries.map((l) => [l.library, l.count, l.read, l.unchanged])).toEqual([
      ['uploads/a/', 13, 1, false],
      ['uploads/b/', 5, 0, true],
    ]);
    const keys = [...keysOf('uploads/a/', 12), 'uploads/a/new.jpg'];
    const want = await expectedTiers(keys);
    for (const key of keys) expect(await libraryTag(key), key).toBe(want.get(key));

    const unchanged = await cli();
    expect(unchanged.code, unchanged.err).toBe(0);
    expect(unchanged.out).toBe(
      [
        `uploads/a/: 13 ranked, unchanged since its summary (s3://${BUCKET}/results/uploads/a/.mmlq-library.json)`,
        `uploads/b/: 5 ranked, unchanged since its summary (s3://${BUCKET}/results/uploads/b/.mmlq-library.json)`,
        '',
      ].join('\n'),
    );
    const full = await cli('--library', 'uploads/b/', '--full', '--json');
    expect(full.code, full.err).toBe(0);
    expect(JSON.parse(full.out)).toEqual({
      libraries: [
        {
          library: 'uploads/b/',
          count: 5,
          read: 5,
          retagged: 5,
          gone: 0,
          orphaned: 0,
          unchanged: false,
          models: { [modelOf(await result('uploads/b/img-0.jpg'))]: 5 },
        },
      ],
    });
    const inside = await cli('--library', 'uploads/a/x/');
    expect(inside.code).toBe(2);
    expect(inside.err).toMatch(
      /^error \[INVALID_ARGUMENT\]: Expected the upload prefix "uploads\/" or a folder of it at most 1 deep/,
    );
  }, 120_000);

  it('an image deleted from the bucket leaves its library ranking at the next run; its result stays', async () => {
    const keys = keysOf('uploads/b/', 5);
    const before = await expectedTiers(keys);
    const best = keys.find((k) => before.get(k) === 'top')!;
    deleted = best;
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: best }));
    const report = await runSchedule();
    expect(report.libraries.find((l) => l.library === 'uploads/b/')).toEqual({
      library: 'uploads/b/',
      count: 4,
      read: 0,
      retagged: expect.any(Number),
      gone: 0,
      orphaned: 1,
      unchanged: false,
      models: expect.any(Object),
    });
    expect((await result(best))?.ok).toBe(true);
    expect(await summary('uploads/b/')).toMatchObject({ count: 4, orphaned: 1, retagged: true });
    const rest = keys.filter((k) => k !== best);
    const want = await expectedTiers(rest);
    for (const key of rest) expect(await libraryTag(key), key).toBe(want.get(key));
    expect([...want.values()]).toContain('top');
  }, 120_000);

  it('says when a library ranks scores of two model versions (after a model change), and ranks them all', async () => {
    // One image of b/ as a newer model version scored it (what on-upload writes after a model change).
    const key = keysOf('uploads/b/', 5).find((k) => k !== deleted)!;
    const doc = (await result(key))!;
    const old = modelOf(doc);
    await objects.putJson(
      { bucket: BUCKET, key: `results/${key}.json` },
      {
        ...doc,
        model: { ...doc.model, version: '9.0.0' },
      },
    );
    const report = await runSchedule();
    const b = report.libraries.find((l) => l.library === 'uploads/b/')!;
    expect(b).toMatchObject({ count: 4, read: 1, unchanged: false });
    expect(b.models).toEqual({ [old]: 3, [`${doc.model.name}@9.0.0`]: 1 });
    const run = await cli('--library', 'uploads/b/');
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/^uploads\/b\/: 4 ranked, 1 left out .*unchanged since its summary/);
    // stderr: the progress line, then the warning.
    expect(
      run.err
        .split('\n')
        .filter((l) => l.startsWith('warning: '))
        .join('\n'),
    ).toBe(
      `warning: uploads/b/: scores of 2 model versions ranked together (${old}: 3, ${doc.model.name}@9.0.0: 1); rescore the library with one model (mmlq-edge bucket backfill) for one scale`,
    );
  }, 120_000);
});
