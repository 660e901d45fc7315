/**
 * The scorer's HTTP entry point (the GPU path, run here on CPU): micro-batching, the HTTP scorer client
 * the edge functions use when SCORER_URL is set, retries against a scorer that is down, and the
 * cuda → cpu fallback.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScorerClientConfig } from '#core/clients/config.ts';
import { HttpScorerClient } from '#core/clients/scorer-client.ts';
import { observability } from '#core/common/observability.ts';
import { unloadAll } from '#core/model/registry.ts';
import { MicroBatcher } from '#core/scorer-service/batcher.ts';
import { readServerConfig } from '#core/scorer-service/config.ts';
import { type ScorerServer, startScorerServer } from '#core/scorer-service/http-server.ts';
import { freePort } from '#tools/local/stack.ts';
import { patternJpeg } from '../helpers/images.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';

let dir: string;
let server: ScorerServer;
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
  const { logger } = observability('scorer-http-test');
  logger.warn = ((m: string) => warnings.push(m)) as typeof logger.warn;
  const config = readServerConfig({
    MODEL: 'tiny',
    MODELS_DIR: dir,
    PROVIDER: 'cuda',
    HOST: '127.0.0.1',
    PORT: '0',
    BATCH_WINDOW_MS: '20',
    URL_ALLOWED_ORIGINS: '',
    ALLOWED_BUCKETS: 'media',
  });
  server = await startScorerServer(config, logger);
});

afterAll(async () => {
  await server?.close();
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
    const health = await (await fetch(`${server.url}/health`)).json();
    expect(health).toMatchObject({ status: 'ok', model: { name: 'tiny', provider: 'cpu' } });
  });

  it('scores jobs from concurrent clients through the micro-batcher, in order, with per-item errors', async () => {
    const scorer = client(server.url);
    // URL inputs are disabled and only the bucket "media" may be read: both items are typed errors
    // answered without touching the network.
    const jobs = await Promise.all(
      [0, 1, 2].map((n) =>
        scorer.score({
          items: [
            { id: `url-${n}`, image: { url: 'https://images.example.com/a.jpg' } },
            { id: `s3-${n}`, image: { s3: { bucket: 'nowhere', key: 'x.jpg' } } },
          ],
        }),
      ),
    );
    for (const [n, job] of jobs.entries()) {
      expect(job.model.name).toBe('tiny');
      expect(job.outcomes.map((o) => [o.id, o.ok ? 'ok' : o.error.code])).toEqual([
        [`url-${n}`, 'URL_NOT_ALLOWED'],
        [`s3-${n}`, 'INVALID_ARGUMENT'],
      ]);
    }
    const before = server.batcher.stats.items;
    const image = await patternJpeg(64, 64);
    // Bytes go through the same batcher the HTTP path uses.
    const outcomes = await server.batcher.submit([{ id: 'direct', image: { bytes: image } }]);
    expect(outcomes[0]).toMatchObject({ id: 'direct', ok: true });
    expect(server.batcher.stats.items).toBe(before + 1);
  });

  it('answers 400 to a job that is not valid, which the client does not retry', async () => {
    const res = await fetch(`${server.url}/v1/score`, { method: 'POST', body: '{"items":"nope"}' });
    expect(res.status).toBe(400);
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
