/**
 * The corpus of hostile and odd images (test/helpers/corpus.ts) through every entry point: the CLI
 * in-process, the HTTP API (bytes posted, and S3 references) and S3 uploads (on-upload's result JSON), on
 * one local stack with the tiny model. Each case must give its exact outcome; nothing may reach the probe
 * server the SVG points at; the stack must still score afterwards. Then a bounded load burst on loopback:
 * every request answered 200 and the stack's memory flat round over round.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiKey } from '#core/api-auth/keys.ts';
import { STATUS } from '#core/common/errors.ts';
import { unloadAll } from '#core/model/registry.ts';
import { type Stack, startStack } from '#tools/local/stack.ts';
import { runCliCaptured } from '../helpers/cli.ts';
import { buildCorpus, type CorpusCase, type Expected } from '../helpers/corpus.ts';
import { patternJpeg } from '../helpers/images.ts';
import { eventually } from '../helpers/poll.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';

/** Every request to the stack gives up after this: a hang fails the test instead of stalling it. */
const REQUEST_TIMEOUT_MS = 20_000;
/**
 * The load burst: a warm-up burst, then ROUNDS measured bursts of CONCURRENT requests. Each concurrent
 * request costs serverless-offline a worker thread per function (authorizer, score-api, scorer), started
 * on first need: 24 at once on two cores pass the authorizer's 10 s timeout (answered 401), 8 do not.
 */
const ROUNDS = 3;
const CONCURRENT = 8;

let dir: string;
let stack: Stack;
let corpus: CorpusCase[];
let probe: Server;
const probeHits: string[] = [];
const apiKey = newApiKey('hostile-images');

/** `ok <format>` or the error code: one comparable line per case. */
function outcome(expected: Expected): string {
  return expected.ok ? `ok ${expected.format}` : expected.code;
}

function api(
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer | string },
) {
  return fetch(`${stack.apiUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${apiKey.key}`, ...init.headers },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

async function getJson(key: string): Promise<any> {
  const out = await stack.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
  return JSON.parse(await out.Body!.transformToString());
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mmlq-hostile-'));
  probe = createServer((req, res) => {
    probeHits.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'image/png' }).end();
  });
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const secretFile = join(dir, 'secret.txt');
  await writeFile(secretFile, 'not for any image');
  await mkdir(join(dir, 'corpus'));
  corpus = await buildCorpus(join(dir, 'corpus'), {
    probeOrigin: `http://127.0.0.1:${(probe.address() as { port: number }).port}`,
    secretFile,
  });
  await writeTinyModel(join(dir, 'models'), { name: 'tiny' });
  stack = await startStack({
    root: process.cwd(),
    dataDir: join(dir, 's3'),
    bucket: 'mmlq-hostile',
    model: 'tiny',
    modelsDir: join(dir, 'models'),
    retryBackoffMs: 50,
    env: { API_KEYS_JSON: JSON.stringify([apiKey.entry]), SCORER_BACKOFF_MS: '50' },
  });
  expect((await api('/v1/health', {})).status).toBe(200);
});

afterAll(async () => {
  await stack?.stop();
  await unloadAll();
  await new Promise<void>((r) => (probe ? probe.close(() => r()) : r()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the hostile-image corpus', () => {
  it('CLI --json: each file scored with its format or refused with its exact code', async () => {
    const files = corpus.map((c) => relative(dir, c.path));
    const args = ['score', '--models-dir', join(dir, 'models'), '--model', 'tiny', ...files, '--json'];
    const { code, out, err } = await runCliCaptured(args, dir);
    expect(err).toBe('');
    expect(code).toBe(1);
    const report = JSON.parse(out);
    const got = new Map<string, string>();
    for (const r of report.results) got.set(r.file, `ok ${r.image.format}`);
    for (const e of report.errors) got.set(e.file, e.code);
    expect(corpus.map((c) => [c.name, got.get(relative(dir, c.path))])).toEqual(
      corpus.map((c) => [c.name, outcome(c.expected)]),
    );
  });

  it('HTTP API, bytes posted: 200 with the format, or the code with its status', async () => {
    const got: [string, number, string][] = [];
    for (const c of corpus) {
      const res = await api('/v1/scores', {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: c.bytes,
      });
      const body = (await res.json()) as any;
      got.push([c.name, res.status, res.status === 200 ? `ok ${body.image.format}` : body.error.code]);
    }
    expect(got).toEqual(
      corpus.map((c): [string, number, string] => {
        if (c.postedBytes) return [c.name, c.postedBytes.status, c.postedBytes.code];
        return [c.name, c.expected.ok ? 200 : STATUS[c.expected.code], outcome(c.expected)];
      }),
    );
  });

  it('S3 uploads: a result JSON per image (ok with the format, or the code), none for a non-image suffix', {
    timeout: 300_000,
  }, async () => {
    const prefix = `${stack.uploadPrefix}corpus/`;
    // One upload at a time, as a person uploads: each serverless-offline worker stays warm.
    const results: any[] = [];
    for (const c of corpus) {
      const key = `${prefix}${c.name}`;
      await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: c.bytes }));
      results.push(
        c.uploadIgnored
          ? await stack.bridge.idle().then(() => undefined)
          : // The first one waits for cold on-upload and scorer workers; under a loaded CI that took > 30 s.
            await eventually(`the result of ${c.name}`, () => getJson(`results/${key}.json`), 120_000),
      );
    }
    await stack.bridge.idle();
    const written = await stack.s3.send(
      new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: `results/${prefix}` }),
    );
    expect(
      corpus.map((c, i) => {
        const r = results[i];
        return [c.name, r === undefined ? 'none' : r.ok ? `ok ${r.result.image.format}` : r.error.code];
      }),
    ).toEqual(corpus.map((c) => [c.name, c.uploadIgnored ? 'none' : outcome(c.expected)]));
    expect(written.KeyCount).toBe(corpus.filter((c) => !c.uploadIgnored).length);
    // Refused images are the caller's fault: delivered once, never retried or dead-lettered.
    for (const c of corpus) {
      const report = stack.bridge.reports.find((r) => r.keys[0] === `${prefix}${c.name}`);
      expect([c.name, report?.attempts, report?.outcome]).toEqual([c.name, 1, 'delivered']);
    }
  });

  it('HTTP API, S3 references in batches: the scorer answers each item as for the upload', async () => {
    const prefix = `${stack.uploadPrefix}corpus/`;
    const cases = corpus.filter((c) => !c.uploadIgnored);
    const got: [string, string][] = [];
    for (let at = 0; at < cases.length; at += 16) {
      const batch = cases.slice(at, at + 16);
      const res = await api('/v1/scores', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          items: batch.map((c) => ({ id: c.name, s3: { bucket: stack.bucket, key: `${prefix}${c.name}` } })),
        }),
      });
      expect(res.status).toBe(200);
      for (const item of ((await res.json()) as any).items) {
        got.push([item.id, item.ok ? `ok ${item.image.format}` : item.error.code]);
      }
    }
    expect(got).toEqual(cases.map((c) => [c.name, outcome(c.expected)]));
  });

  it('the SVG made no request to the probe server, and the stack still scores a valid image', async () => {
    expect(probeHits).toEqual([]);
    const res = await api('/v1/scores', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: await patternJpeg(64, 48),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, image: { format: 'jpeg', width: 64, height: 48 } });
  });
});

/** Process ids of `root` and all its descendants, from /proc (Linux). */
async function processTree(root: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after its last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isFinite(ppid)) continue;
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(parents.get(pid) ?? []));
  }
  return out;
}

/** Resident memory of the local stack's processes (serverless-offline and anything it started), bytes. */
async function stackRss(): Promise<number> {
  let total = 0;
  for (const pid of (await processTree(process.pid)).filter((p) => p !== process.pid)) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (kb) total += Number(kb[1]) * 1024;
  }
  return total;
}

describe('a bounded load burst on loopback', () => {
  it(`answers ${ROUNDS} rounds of ${CONCURRENT} concurrent requests with 200 and keeps memory flat`, async () => {
    const MB = 1024 * 1024;
    const images = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) => patternJpeg(48 + (i % 4) * 8, 48)),
    );
    const burst = () =>
      Promise.all(
        images.map(async (body) => {
          const res = await api('/v1/scores', {
            method: 'POST',
            headers: { 'content-type': 'application/octet-stream' },
            body,
          });
          await res.arrayBuffer();
          return res.status;
        }),
      );
    // The warm-up starts the worker threads (memory that stays); memory is measured after each round.
    expect(['warm-up', await burst()]).toEqual(['warm-up', Array(CONCURRENT).fill(200)]);
    const rss: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      expect([round, await burst()]).toEqual([round, Array(CONCURRENT).fill(200)]);
      rss.push(await stackRss());
    }
    expect(rss[0]).toBeGreaterThan(0);
    expect(
      rss[ROUNDS - 1]!,
      `stack RSS after each round: ${rss.map((b) => `${Math.round(b / MB)} MB`).join(', ')}`,
    ).toBeLessThanOrEqual(rss[0]! * 1.5 + 50 * MB);
  });
});
