/**
 * The scorer's HTTP entry point (the GPU path, run here on CPU): micro-batching, the HTTP scorer client
 * the edge functions use when SCORER_URL is set, retries against a scorer that is down, the bounded
 * queue, the ALB-friendly keep-alive, and the cuda → cpu fallback. Images come from a loopback image
 * server (URL inputs, private networks allowed for the test only).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScorerClientConfig } from '#core/clients/config.ts';
import { HttpScorerClient } from '#core/clients/scorer-client.ts';
import { observability } from '#core/common/observability.ts';
import { unloadAll } from '#core/model/registry.ts';
import { MicroBatcher } from '#core/scorer-service/batcher.ts';
import { readScorerConfig, readServerConfig } from '#core/scorer-service/config.ts';
import { type ScorerServer, startScorerServer } from '#core/scorer-service/http-server.ts';
import { ScoringService } from '#core/scorer-service/service.ts';
import { freePort } from '#tools/local/stack.ts';
import { crashInferenceWorker } from '../helpers/crash.ts';
import { patternJpeg } from '../helpers/images.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';

interface Health {
  status: string;
  model: { name: string; provider: string };
  batching: { batches: number; items: number; largest: number };
  queue: { items: number; max: number; refused: number };
}
const health = async (): Promise<Health> => (await fetch(`${server.url}/health`)).json() as Promise<Health>;

let dir: string;
let server: ScorerServer;
let images: Server;
let imagesOrigin: string;
/** Requests to /slow/* wait here until the test releases them. */
const held: (() => void)[] = [];
let heldArrived: () => void = () => undefined;
const warnings: string[] = [];

const client = (url: string, extra: Partial<ScorerClientConfig> = {}) =>
  new HttpScorerClient({
    functionName: undefined,
    lambdaEndpoint: undefined,
    url,
    maxAttempts: 3,
    backoffMs: 10,
    timeoutMs: 10_000,
    ...extra,
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mmlq-http-'));
  await writeTinyModel(dir, { name: 'tiny' });
  const jpeg = await patternJpeg(64, 64);
  images = createServer((req, res) => {
    const answer = () => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
    if (req.url?.startsWith('/slow/')) {
      held.push(answer);
      heldArrived();
    } else answer();
  });
  images.listen(0, '127.0.0.1');
  await once(images, 'listening');
  imagesOrigin = `http://127.0.0.1:${(images.address() as { port: number }).port}`;
  const { logger } = observability('scorer-http-test');
  logger.warn = ((m: string) => warnings.push(m)) as typeof logger.warn;
  const config = readServerConfig({
    MODEL: 'tiny',
    MODELS_DIR: dir,
    PROVIDER: 'cuda',
    HOST: '127.0.0.1',
    PORT: '0',
    // Long enough that the items of concurrent jobs always meet in one batch.
    BATCH_WINDOW_MS: '200',
    MAX_BATCH_ITEMS: '32',
    MAX_QUEUED_ITEMS: '64',
    URL_ALLOWED_ORIGINS: imagesOrigin,
    URL_ALLOW_PRIVATE_NETWORKS: 'true',
    ALLOWED_BUCKETS: 'media',
  });
  server = await startScorerServer(config, logger);
});

afterAll(async () => {
  for (const release of held.splice(0)) release();
  await server?.close();
  if (images) await new Promise<void>((r) => images.close(() => r()));
  await unloadAll();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('MicroBatcher', () => {
  it('runs items submitted together as one batch and hands each caller its own results', async () => {
    const runs: number[][] = [];
    const batcher = new MicroBatcher<number, number>(
      async (xs) => {
        runs.push(xs);
        return xs.map((x) => x * 10);
      },
      { windowMs: 10, maxItems: 100 },
    );
    const [a, b, c] = await Promise.all([
      batcher.submit([1, 2]),
      batcher.submit([3]),
      batcher.submit([4, 5, 6]),
    ]);
    expect(runs).toEqual([[1, 2, 3, 4, 5, 6]]);
    expect([a, b, c]).toEqual([[10, 20], [30], [40, 50, 60]]);
  });

  it('flushes at maxItems without waiting for the window, and fails every caller of a failed batch', async () => {
    const runs: number[][] = [];
    const batcher = new MicroBatcher<number, number>(
      async (xs) => {
        runs.push(xs);
        if (xs.includes(-1)) throw new Error('boom');
        return xs;
      },
      { windowMs: 60_000, maxItems: 3 },
    );
    expect(await Promise.all([batcher.submit([1, 2]), batcher.submit([3])])).toEqual([[1, 2], [3]]);
    const failed = await Promise.allSettled([batcher.submit([-1, 0]), batcher.submit([9])]);
    expect(failed.map((f) => f.status)).toEqual(['rejected', 'rejected']);
    expect(runs).toEqual([
      [1, 2, 3],
      [-1, 0, 9],
    ]);
  });

  it('validates its options', () => {
    expect(() => new MicroBatcher(async (x) => x, { windowMs: -1, maxItems: 1 })).toThrow(
      'Expected non-negative integer for batcher.windowMs but received -1 of type number',
    );
  });
});

describe('scorer HTTP server', () => {
  it('falls back from cuda to cpu with one log line and reports it in /health', async () => {
    expect(warnings.filter((w) => w.startsWith('Execution provider cuda'))).toHaveLength(1);
    expect(await health()).toMatchObject({
      status: 'ok',
      model: { name: 'tiny', provider: 'cpu' },
      inference: { restarts: 0 },
    });
  });

  it('scores jobs from concurrent clients in shared batches, in order, with per-item errors', async () => {
    const scorer = client(server.url);
    const before = { ...server.batcher.stats };
    const jobs = await Promise.all(
      [0, 1, 2].map((n) =>
        scorer.score({
          items: [
            { id: `a-${n}`, image: { url: `${imagesOrigin}/a-${n}.jpg` } },
            { id: `s3-${n}`, image: { s3: { bucket: 'nowhere', key: 'x.jpg' } } },
            { id: `b-${n}`, image: { url: `${imagesOrigin}/b-${n}.jpg` } },
          ],
        }),
      ),
    );
    for (const [n, job] of jobs.entries()) {
      expect(job.model.name).toBe('tiny');
      expect(job.outcomes.map((o) => [o.id, o.ok ? 'ok' : o.error.code])).toEqual([
        [`a-${n}`, 'ok'],
        [`s3-${n}`, 'INVALID_ARGUMENT'],
        [`b-${n}`, 'ok'],
      ]);
    }
    // Six images from three requests reached the model in fewer runs than requests: micro-batched.
    const { batching } = await health();
    expect(batching.items - before.items).toBe(6);
    expect(batching.batches - before.batches).toBeLessThan(3);
    expect(batching.largest).toBeGreaterThan(2);
  });

  it('heals when its inference worker dies: that batch fails, the next one scores, /health counts the restart', async () => {
    const scorer = client(server.url, { maxAttempts: 1 });
    const job = (id: string) =>
      scorer.score({ items: [{ id, image: { url: `${imagesOrigin}/${id}.jpg` } }] });
    const before = await job('before-crash');
    expect(before.outcomes[0]!.ok).toBe(true);
    await crashInferenceWorker(server.service.scorer.model.session);
    const after = await job('after-crash');
    expect(after.outcomes[0]).toMatchObject({ id: 'after-crash', ok: true });
    expect(after.outcomes[0]!.ok && after.outcomes[0]!.result.score).toBe(
      before.outcomes[0]!.ok && before.outcomes[0]!.result.score,
    );
    expect(await health()).toMatchObject({ status: 'ok', inference: { restarts: 1 } });
    expect(warnings.some((w) => /^The inference worker of .+ stopped \(/.test(w))).toBe(true);
  });

  it('carries crop aspects through the micro-batcher: boxes inside the image; a bad aspect is a 400', async () => {
    const job = await client(server.url).score({
      items: [
        { id: 'crop', image: { url: `${imagesOrigin}/c.jpg` }, crops: ['16:9', '1:1'] },
        { id: 'plain', image: { url: `${imagesOrigin}/p.jpg` } },
      ],
    });
    const [crop, plain] = job.outcomes;
    if (!crop?.ok || !plain?.ok) throw new Error(`expected both to score: ${JSON.stringify(job.outcomes)}`);
    expect(crop.result.crops?.map((c) => c.aspect)).toEqual(['16:9', '1:1']);
    for (const c of crop.result.crops!) {
      expect(c.left + c.width).toBeLessThanOrEqual(64);
      expect(c.top + c.height).toBeLessThanOrEqual(64);
    }
    expect(crop.result.crops![1]).toMatchObject({ width: 64, height: 64 });
    expect(crop.result.image.phash).toMatch(/^[0-9a-f]{16}$/);
    expect(plain.result.crops).toBeUndefined();
    const bad = await fetch(`${server.url}/v1/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        items: [{ id: 'x', image: { url: `${imagesOrigin}/x.jpg` }, crops: ['wide'] }],
      }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('items.0.crops.0');
  });

  it('refuses S3 inputs outside ALLOWED_BUCKETS, and all of them when it is unset', async () => {
    expect(readScorerConfig({}).allowedBuckets).toEqual([]);
    const service = await ScoringService.create(
      readScorerConfig({ MODEL: 'tiny', MODELS_DIR: dir, AWS_REGION: 'eu-west-1' }),
      () => undefined,
    );
    const { outcomes } = await service.run({
      items: [{ id: 'x', image: { s3: { bucket: 'media', key: 'a.jpg' } } }],
    });
    expect(outcomes[0]).toEqual({
      id: 'x',
      ok: false,
      error: {
        code: 'INVALID_ARGUMENT',
        message: 'S3 inputs are disabled: no bucket is allow-listed (ALLOWED_BUCKETS is empty)',
      },
    });
  });

  it('answers 503 SCORER_UNAVAILABLE with Retry-After beyond MAX_QUEUED_ITEMS, and reports the queue', async () => {
    const arrived = new Promise<void>((r) => {
      heldArrived = r;
    });
    const items = Array.from({ length: 64 }, (_, i) => ({
      id: `q${i}`,
      image: { url: `${imagesOrigin}/slow/${i}.jpg` },
    }));
    const full = fetch(`${server.url}/v1/score`, { method: 'POST', body: JSON.stringify({ items }) });
    await arrived; // 64 items admitted, their images still being fetched
    const refused = await fetch(`${server.url}/v1/score`, {
      method: 'POST',
      body: JSON.stringify({ items: [{ id: 'one', image: { url: `${imagesOrigin}/a.jpg` } }] }),
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toEqual({
      error: {
        code: 'SCORER_UNAVAILABLE',
        message: 'The scorer is busy: 64 items queued, at most 64 (MAX_QUEUED_ITEMS); retry later',
      },
    });
    const { queue } = await health();
    expect(queue).toMatchObject({ items: 64, max: 64 });
    expect(queue.refused).toBeGreaterThanOrEqual(1);

    // Let the held image requests through as they come (8 at a time: the service's fetch concurrency).
    const release = setInterval(() => {
      for (const answer of held.splice(0)) answer();
    }, 5);
    const done = await full;
    clearInterval(release);
    expect(done.status).toBe(200);
    const body = (await done.json()) as { outcomes: { ok: boolean }[] };
    expect(body.outcomes.filter((o) => o.ok)).toHaveLength(64);
    expect((await health()).queue.items).toBe(0);
  });

  it('keeps idle connections longer than the load balancer (65 s), headers timeout beyond that', () => {
    expect(server.server.keepAliveTimeout).toBeGreaterThan(65_000);
    expect(server.server.headersTimeout).toBeGreaterThan(server.server.keepAliveTimeout);
  });

  it('listens on loopback unless HOST says otherwise, and bounds its queue by default', () => {
    const config = readServerConfig({});
    expect(config.host).toBe('127.0.0.1');
    expect(config.maxQueuedItems).toBe(64);
    expect(readServerConfig({ BATCH_SIZE: '32', MAX_BATCH_ITEMS: '64' }).maxQueuedItems).toBe(128);
    expect(() => readServerConfig({ MAX_QUEUED_ITEMS: '10' })).toThrow(
      'Environment variable MAX_QUEUED_ITEMS must be an integer >= 64 but is "10"',
    );
  });

  it('answers 400 to a job that is not valid, which the client does not retry', async () => {
    const res = await fetch(`${server.url}/v1/score`, { method: 'POST', body: '{"items":"nope"}' });
    expect(res.status).toBe(400);
    const torn = await fetch(`${server.url}/v1/score`, { method: 'POST', body: '{"items":' });
    expect([torn.status, await torn.json()]).toEqual([
      400,
      {
        error: {
          code: 'INVALID_ARGUMENT',
          message: 'Expected a JSON scoring job but the body does not parse',
        },
      },
    ]);
    const error = await client(server.url)
      .score({ items: [{ id: 'x', image: { s3: { bucket: 'b', key: '' } } }] })
      .catch((e: Error) => e);
    expect((error as { code?: string }).code).toBe('SCORER_FAILED');
  });

  it('retries a scorer that is down, then fails with SCORER_UNAVAILABLE', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const retries: number[] = [];
    const scorer = new HttpScorerClient(
      {
        functionName: undefined,
        lambdaEndpoint: undefined,
        url: down,
        maxAttempts: 3,
        backoffMs: 10,
        timeoutMs: 2000,
      },
      (n) => retries.push(n),
    );
    const error = await scorer.score({ items: [] }).catch((e: Error) => e);
    expect((error as { code?: string }).code).toBe('SCORER_UNAVAILABLE');
    expect((error as Error).message).toMatch(
      /^The scorer \(http:\/\/127\.0\.0\.1:\d+\/v1\/score\) failed 3 attempts; last: /,
    );
    expect(retries).toEqual([1, 2]);
  });
});

describe('scorer start-up with REQUIRE_PROVIDER=true (the GPU image)', () => {
  // onnxruntime-node here has no CUDA provider library: exactly a GPU image whose CUDA failed to load.
  const env = () => ({
    MODEL: 'tiny',
    MODELS_DIR: dir,
    PROVIDER: 'cuda',
    REQUIRE_PROVIDER: 'true',
    HOST: '127.0.0.1',
    PORT: '0',
    AWS_REGION: 'eu-west-1',
  });

  it('refuses to start on cpu when cuda is required, naming the missing library', async () => {
    expect(readServerConfig(env()).requireProvider).toBe(true);
    expect(readServerConfig({}).requireProvider).toBe(false);
    const { logger } = observability('scorer-http-test');
    const started = startScorerServer(readServerConfig(env()), logger);
    await expect(started).rejects.toThrow(
      /^Execution provider cuda is required but unavailable \(its provider library \/.*\/libonnxruntime_providers_cuda\.so is not installed\); not falling back to cpu$/,
    );
  });

  it('exits non-zero at start (functions/scorer/server.ts) with that message', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'functions/scorer/server.ts'], {
      env: { PATH: process.env['PATH'], ...env() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) stream.on('data', (c: Buffer) => (output += c));
    // A server that started anyway is stopped (SIGTERM: exit 0) so the assertion below reports it.
    const stop = setTimeout(() => child.kill('SIGTERM'), 20_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(stop);
    expect(output).not.toContain('scorer listening');
    expect(output).toContain('libonnxruntime_providers_cuda.so is not installed');
    expect(code).toBe(1);
  }, 30_000);
});
