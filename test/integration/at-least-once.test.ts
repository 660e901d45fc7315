/**
 * At-least-once, end to end, counted (issue 8): for each fault, N distinct uploads go in while the fault
 * hits mid-batch; once it is lifted and the bridge is idle, every upload is accounted for exactly once,
 * either as a result JSON for that very upload (its ETag) whose tags agree with it, or as a dead-letter
 * record (in S3 or the local fallback folder) naming it. After a re-drive every upload has its result.
 *
 * The stack is the real one (s3rver, serverless-offline running the handlers, the S3 event bridge).
 * The faults sit on the paths the functions use, never in their code:
 *   functions → TcpSwitch (off / frozen) → FaultProxy (canned answers) → s3rver or the Lambda port.
 * The test itself reads and uploads straight to s3rver, around the faults.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, stripQuotes } from '#core/clients/s3.ts';
import { decodeEventKey, encodeEventKey } from '#core/clients/s3-event.ts';
import { scoreTag, TAGS } from '#core/results/store.ts';
import type { DeadLetterRecord } from '#tools/local/s3-bridge.ts';
import { freePort, type Stack, startStack } from '#tools/local/stack.ts';
import { FaultProxy, LAMBDA_CRASH, S3_SLOW_DOWN } from '../helpers/fault-proxy.ts';
import { patternJpeg } from '../helpers/images.ts';
import { eventually } from '../helpers/poll.ts';
import { TcpSwitch } from '../helpers/tcp-switch.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';

const N = 12;
const BUCKET = 'mmlq-count';

let dir: string;
let stack: Stack;
/** Straight to s3rver: the test's own uploads and reads never meet a fault. */
let direct: S3Client;
let s3Switch: TcpSwitch;
let s3Proxy: FaultProxy;
let scorerSwitch: TcpSwitch;
let scorerProxy: FaultProxy;
const stackLog: string[] = [];
const offline: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mmlq-count-'));
  await writeTinyModel(join(dir, 'models'), { name: 'tiny' });
  const s3Port = await freePort();
  const lambdaPort = await freePort();
  s3Proxy = new FaultProxy(await freePort(), { host: '127.0.0.1', port: s3Port });
  await s3Proxy.start();
  s3Switch = new TcpSwitch(await freePort(), { host: '127.0.0.1', port: s3Proxy.port });
  await s3Switch.on();
  scorerProxy = new FaultProxy(await freePort(), { host: '127.0.0.1', port: lambdaPort });
  await scorerProxy.start();
  scorerSwitch = new TcpSwitch(await freePort(), { host: '127.0.0.1', port: scorerProxy.port });
  await scorerSwitch.on();
  stack = await startStack({
    root: process.cwd(),
    dataDir: join(dir, 's3'),
    deadLetterDir: join(dir, 'dead-letter'),
    bucket: BUCKET,
    s3Port,
    lambdaPort,
    s3ClientEndpoint: s3Switch.url,
    scorerLambdaEndpoint: scorerSwitch.url,
    model: 'tiny',
    modelsDir: join(dir, 'models'),
    concurrency: 2,
    retries: 2,
    retryBackoffMs: 200,
    s3TimeoutMs: 800,
    env: { SCORER_MAX_ATTEMPTS: '2', SCORER_BACKOFF_MS: '50' },
    functionEnv: { SCORER_TIMEOUT_MS: '1000', S3_TIMEOUT_MS: '800' },
    log: (line) => stackLog.push(line),
    offlineOutput: (t) => offline.push(t),
  });
  direct = createS3Client(
    { region: 'us-east-1', endpoint: `http://127.0.0.1:${s3Port}`, forcePathStyle: true, timeoutMs: 10_000 },
    { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  );
  // Warm both on-upload instances and the scorer (model load) before any fault.
  const warm = await uploadBatch('warm', 2);
  await stack.bridge.idle();
  expect((await account(warm)).problems).toEqual([]);
});

afterAll(async () => {
  // AT_LEAST_ONCE_LOG=<file>: the bridge's and serverless-offline's output, to see what a fault did.
  const logFile = process.env['AT_LEAST_ONCE_LOG'];
  if (logFile)
    await writeFile(logFile, `${stackLog.join('\n')}\n----- serverless-offline\n${offline.join('')}`);
  await stack?.stop();
  direct?.destroy();
  await scorerSwitch?.off();
  await scorerProxy?.stop();
  await s3Switch?.off();
  await s3Proxy?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** key → ETag of the upload. */
type Batch = Map<string, string>;

async function put(key: string, body: Buffer): Promise<string> {
  const out = await direct.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: 'image/jpeg' }),
  );
  return stripQuotes(out.ETag);
}

/**
 * n distinct images under uploads/<name>/; the first is a truncated JPEG (a permanent error result).
 * `beforeUpload(i)` is awaited before the i-th upload.
 */
async function uploadBatch(
  name: string,
  n: number,
  beforeUpload: (i: number) => Promise<void> = async () => {},
): Promise<Batch> {
  const batch: Batch = new Map();
  for (let i = 0; i < n; i++) {
    await beforeUpload(i);
    const key = `uploads/${name}/img-${i}.jpg`;
    const jpeg = await patternJpeg(40 + i, 32);
    batch.set(key, await put(key, i === 0 && n > 2 ? jpeg.subarray(0, jpeg.length >> 1) : jpeg));
  }
  return batch;
}

async function getJson<T>(key: string): Promise<T | undefined> {
  try {
    const out = await direct.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const text = await out.Body!.transformToString();
    // s3rver keeps an empty object for a PUT whose body never arrived (the frozen connection was given
    // up); S3 stores nothing then. Such a torn write is no record: the writer fell back elsewhere.
    return text === '' ? undefined : (JSON.parse(text) as T);
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

async function listKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await direct.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }),
    );
    keys.push(...(out.Contents ?? []).map((o) => o.Key!));
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function tagsOf(key: string): Promise<Record<string, string>> {
  const out = await direct.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }));
  return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key!, t.Value!]));
}

interface StoredResult {
  ok: boolean;
  source: { key: string; etag: string };
  model: { name: string; version: string };
  result?: { score: number; tier: string };
  error?: { code: string };
}

/**
 * Dead-letter records not yet re-driven, S3 and local folder: upload key → record name → where. One
 * record can be in both places under its one name: the sink's S3 write timed out in the freeze, yet its
 * bytes reached S3 at the thaw, and the sink had also kept the local file (re-drive sends it once).
 */
async function deadLetters(): Promise<Map<string, Map<string, string[]>>> {
  const found = new Map<string, Map<string, string[]>>();
  const note = (record: DeadLetterRecord, name: string, where: string) => {
    for (const r of (record.requestPayload as S3Event).Records) {
      const key = decodeEventKey(r.s3.object.key);
      const records = found.get(key) ?? new Map<string, string[]>();
      records.set(name, [...(records.get(name) ?? []), where]);
      found.set(key, records);
    }
  };
  const { prefix, dir: local } = stack.deadLetters;
  for (const key of await listKeys(prefix)) {
    if (key.startsWith(`${prefix}redriven/`)) continue;
    const record = await getJson<DeadLetterRecord>(key);
    // listDeadLetters (redrive) skips torn ones the same way
    if (record) note(record, key.slice(prefix.length), `s3://${key}`);
  }
  for (const name of await readdir(local).catch(() => [] as string[])) {
    if (name.endsWith('.json'))
      note(JSON.parse(await readFile(join(local, name), 'utf8')), name, join(local, name));
  }
  return found;
}

interface Count {
  /** Uploads with a result of that very upload whose tags agree. */
  results: number;
  /** Uploads named by a dead-letter record. */
  deadLettered: number;
  /** In S3 / in the local fallback folder. */
  inS3: number;
  local: number;
  /** Records found both in S3 and locally (one record; its S3 write's answer was lost). */
  inBoth: number;
  /** Uploads with both: their result was written, yet the delivery failed and was dead-lettered. */
  ackLost: string[];
  /** Every way an upload is not accounted for exactly once; [] when all are. */
  problems: string[];
}

/** Accounts for every upload of the batch: one result (right ETag, agreeing tags) or one dead letter. */
async function account(batch: Batch): Promise<Count> {
  const letters = await deadLetters();
  const count: Count = {
    results: 0,
    deadLettered: 0,
    inS3: 0,
    local: 0,
    inBoth: 0,
    ackLost: [],
    problems: [],
  };
  for (const [key, etag] of batch) {
    const result = await getJson<StoredResult>(`results/${key}.json`);
    let good = false;
    if (result) {
      const tags = await tagsOf(key);
      const expected = {
        [TAGS.model]: `${result.model.name}@${result.model.version}`,
        ...(result.ok
          ? { [TAGS.score]: scoreTag(result.result!.score), [TAGS.tier]: result.result!.tier }
          : { [TAGS.error]: result.error!.code }),
      };
      if (result.source.key !== key || result.source.etag !== etag) {
        count.problems.push(`${key}: result for ${result.source.key}#${result.source.etag}, upload ${etag}`);
      } else if (JSON.stringify(sorted(tags)) !== JSON.stringify(sorted(expected))) {
        count.problems.push(`${key}: tags ${JSON.stringify(tags)} disagree with the result`);
      } else good = true;
    }
    const records = letters.get(key) ?? new Map<string, string[]>();
    const where = [...records.values()].flat();
    if (good) count.results++;
    if (records.size) count.deadLettered++;
    for (const w of where) w.startsWith('s3://') ? count.inS3++ : count.local++;
    count.inBoth += [...records.values()].filter((w) => w.length > 1).length;
    if (!good && records.size === 0 && !result)
      count.problems.push(`${key}: lost (no result, no dead letter)`);
    if (records.size > 1)
      count.problems.push(`${key}: dead-lettered ${records.size} times: ${where.join(', ')}`);
    // The result landed but the delivery still failed (the write's answer was lost to the fault): at
    // least once, not twice, if re-driving that dead letter finds the result and writes nothing.
    if (good && records.size === 1) count.ackLost.push(key);
  }
  return count;
}

function sorted(tags: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).sort(([a], [b]) => a.localeCompare(b)));
}

/** Deliveries of the batch's keys the bridge finished with that outcome. */
function finished(batch: Batch, outcome: 'delivered' | 'dead-lettered'): number {
  return stack.bridge.reports.filter((r) => r.outcome === outcome && batch.has(decodeEventKey(r.keys[0]!)))
    .length;
}

/**
 * Uploads `after` images, starts `fault` once they are delivered, uploads the rest of N (mid-batch),
 * lifts it with `lift` once `until` holds, waits for the bridge, then counts; re-drives; counts again.
 */
async function scenario(
  name: string,
  fault: {
    inject: () => void;
    lift: () => void;
    /** When to lift it (default: at once); injectedAt is Date.now() at inject. */
    until?: (batch: Batch, injectedAt: number) => boolean | Promise<boolean>;
    after?: number;
  },
): Promise<{ before: Count; after: Count }> {
  // The bridge sees the keys as they are put; the batch is known once all are.
  const keys = new Map(Array.from({ length: N }, (_, i) => [`uploads/${name}/img-${i}.jpg`, '']));
  const faultAfter = fault.after ?? 3;
  let onInjected: (at: number) => void = () => {};
  const injected = new Promise<number>((r) => (onInjected = r));
  // The first `after` uploads, then (once they are delivered) the fault, then the rest: however fast the
  // first ones went, the rest of the batch meets the fault (waiting on deliveries alone, a fast run could
  // finish them all before the fault began, and nothing was left to meet it).
  const uploaded = uploadBatch(name, N, async (i) => {
    if (i !== faultAfter) return;
    await eventually(`${faultAfter} deliveries of ${name}`, async () =>
      finished(keys, 'delivered') >= faultAfter ? true : undefined,
    );
    fault.inject();
    onInjected(Date.now());
  });
  // When the fault began; a failed upload or wait ends it here, a batch uploaded without it gives 0.
  const injectedAt = await Promise.race([injected, uploaded.then(() => 0)]);
  expect(injectedAt, `the ${name} fault began mid-batch`).toBeGreaterThan(0);
  try {
    if (fault.until) {
      const until = fault.until;
      await eventually(
        `the end of the ${name} fault`,
        async () => ((await until(keys, injectedAt)) ? true : undefined),
        40_000,
      );
    }
  } finally {
    fault.lift();
  }
  const batch = await uploaded;
  await stack.bridge.idle();
  const before = await account(batch);
  // Result writes during the re-drive, per upload key.
  const rewritten: string[] = [];
  const unsubscribe = stack.onS3Event((e) => {
    for (const r of e.Records) if (r.s3.object.key.startsWith('results/')) rewritten.push(r.s3.object.key);
  });
  try {
    const report = await stack.redrive();
    expect(report.failed).toEqual([]);
    await stack.bridge.idle();
  } finally {
    unsubscribe();
  }
  expect(rewritten.filter((k) => before.ackLost.some((key) => k === `results/${key}.json`))).toEqual([]);
  const after = await account(batch);
  console.log(
    `${name}: in ${N}, results ${before.results}, dead letters ${before.deadLettered} ` +
      `(S3 ${before.inS3}, local ${before.local}${before.inBoth ? `, ${before.inBoth} of them in both` : ''}); after redrive: results ${after.results}, ` +
      `dead letters ${after.deadLettered}${before.ackLost.length ? `; both: ${before.ackLost.join(', ')}` : ''}`,
  );
  return { before, after };
}

/** The counts that must hold whatever the fault did. */
function expectAllAccounted({ before, after }: { before: Count; after: Count }) {
  expect(before.problems).toEqual([]);
  expect(before.results + before.deadLettered - before.ackLost.length).toBe(N);
  expect(after.problems).toEqual([]);
  expect([after.results, after.deadLettered, after.ackLost]).toEqual([N, 0, []]);
}

const scorerInvocation = (req: { url?: string | undefined }) =>
  (req.url ?? '').includes(stack.functionName('scorer'));

describe('at-least-once: uploads in = results + dead letters, under faults', () => {
  it('the scorer crashes mid-batch (its runtime dies after the work, the answer is an exit error)', async () => {
    const counts = await scenario('scorer-crash', {
      inject: () => scorerProxy.inject({ reply: LAMBDA_CRASH, afterTarget: true, match: scorerInvocation }),
      lift: () => scorerProxy.lift(),
      until: (batch) => finished(batch, 'dead-lettered') >= 1,
    });
    expectAllAccounted(counts);
    expect(counts.before.deadLettered).toBeGreaterThan(0);
    expect(scorerProxy.faulted).toBeGreaterThan(0);
  });

  it('the scorer hangs past SCORER_TIMEOUT_MS (its path frozen)', async () => {
    const counts = await scenario('scorer-timeout', {
      inject: () => scorerSwitch.freeze(),
      lift: () => scorerSwitch.thaw(),
      until: (batch) => finished(batch, 'dead-lettered') >= 1,
      // Late in the batch: the events left share 2 slots for 3 slow attempts each.
      after: 8,
    });
    expectAllAccounted(counts);
    expect(counts.before.deadLettered).toBeGreaterThan(0);
  });

  it('S3 answers 503 SlowDown to a burst of requests', async () => {
    const counts = await scenario('s3-503', {
      inject: () => s3Proxy.inject({ reply: S3_SLOW_DOWN, count: 30 }),
      lift: () => s3Proxy.lift(),
      until: () => !s3Proxy.active,
    });
    expectAllAccounted(counts);
    expect(s3Proxy.faulted).toBe(30);
  });

  it('S3 freezes for less than the retries take', async () => {
    const counts = await scenario('s3-frozen-short', {
      inject: () => s3Switch.freeze(),
      lift: () => s3Switch.thaw(),
      until: (_, injectedAt) => Date.now() >= injectedAt + 1500,
    });
    expectAllAccounted(counts);
  });

  it('S3 freezes for longer than the retries take (dead letters fall back to local files)', async () => {
    const counts = await scenario('s3-frozen-long', {
      inject: () => s3Switch.freeze(),
      lift: () => s3Switch.thaw(),
      until: (batch) => finished(batch, 'dead-lettered') >= 1,
      after: 8,
    });
    expectAllAccounted(counts);
    expect(counts.before.local).toBeGreaterThan(0);
  });

  it('the same event delivered 4 times at once: one result, tags that agree', async () => {
    const key = 'uploads/dup/img.jpg';
    const etag = await put(key, await patternJpeg(72, 40));
    // The bridge's own delivery first; then the object counts as not scored again (no result document).
    await eventually('the first result', () => getJson(`results/${key}.json`));
    await stack.bridge.idle();
    await direct.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `results/${key}.json` }));
    const writes: string[] = [];
    const unsubscribe = stack.onS3Event((e) => {
      for (const r of e.Records) if (r.s3.object.key === `results/${key}.json`) writes.push(r.eventName);
    });
    try {
      const event = JSON.parse(await readFile('test/events/s3-put.json', 'utf8'));
      event.Records[0].s3.bucket.name = BUCKET;
      event.Records[0].s3.object.key = encodeEventKey(key);
      event.Records[0].s3.object.eTag = etag;
      const answers = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const out = await stack.lambda.send(
            new InvokeCommand({
              FunctionName: stack.functionName('on-upload'),
              Payload: JSON.stringify(event),
            }),
          );
          return JSON.parse(Buffer.from(out.Payload!).toString('utf8'));
        }),
      );
      const statuses = answers.map((a) => a.records?.[0]?.status);
      console.log(`duplicates: statuses ${statuses.join(', ')}; result writes ${writes.length}`);
      expect(statuses.every((s) => s === 'scored' || s === 'duplicate')).toBe(true);
      expect((await account(new Map([[key, etag]]))).problems).toEqual([]);
      // Whoever wrote, the one result left is that of this upload, with tags that agree (above). s3rver
      // ignores conditional PUTs, so here more than one may have written: that exactly one does on an S3
      // that honours them is test/integration/conditional-writes.test.ts.
      expect(writes.length).toBeGreaterThanOrEqual(1);
    } finally {
      unsubscribe();
    }
  });
});
