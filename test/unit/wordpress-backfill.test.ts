/**
 * The CLI's WordPress backfill with small fakes (a media library in memory, a fake download and model):
 * arguments, the state file, retries and Retry-After, the rate limit, idempotency, interruption and
 * resumption. The real WordPress path is test/integration/wordpress-backfill-cli.test.ts.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BackfillDeps,
  type BackfillOptions,
  type BackfillState,
  backoffMs,
  isRetryable,
  MAX_RETRY_AFTER_MS,
  type ProgressEvent,
  rateLimiter,
  runBackfill,
  type StateStore,
  withRetries,
} from '#core/cli/backfill.ts';
import { runCli } from '#core/cli/main.ts';
import {
  cacheDir,
  checkImageOrigins,
  checkSiteUrl,
  defaultStatePath,
  exitCodeOf,
  fileStateStore,
  readAppPassword,
} from '#core/cli/wordpress.ts';
import {
  attachmentKey,
  type MediaItem,
  parseRetryAfter,
  type ScoreMeta,
  WordPressHttpError,
} from '#core/clients/wordpress.ts';
import { EdgeError, ImageError } from '#core/common/errors.ts';
import type { ScoreOutcome, ScoreRequest } from '#core/model/scorer.ts';
import { result } from '../helpers/fakes.ts';

const HOME = 'https://example.com/';
const MODEL = { name: 'fake', version: '1.0.0', multimodal: true };
const bytesOf = (id: number) => Buffer.from(`image-${id}`);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A media library in memory, with the WordPressSite methods the backfill uses. */
class FakeLibrary {
  items: MediaItem[] = [];
  writes: { id: number; meta: ScoreMeta; tier: string | undefined }[] = [];
  lists: { offset: number; perPage: number }[] = [];
  listFailures: Error[] = [];
  writeFailures = new Map<number, Error>();

  constructor(ids: number[]) {
    for (const id of ids) this.add(id);
  }
  add(id: number, meta: Record<string, unknown> = {}) {
    this.items.push({
      id,
      source_url: `${HOME}wp-content/uploads/${id}.jpg`,
      title: { raw: `photo ${id}` },
      caption: { raw: '' },
      alt_text: '',
      description: { raw: '' },
      meta: { mmlq_key: '', ...meta },
    });
    this.items.sort((a, b) => a.id - b.id);
  }
  remove(id: number) {
    this.items = this.items.filter((i) => i.id !== id);
  }
  async listImages(offset: number, perPage: number) {
    this.lists.push({ offset, perPage });
    const failure = this.listFailures.shift();
    if (failure) throw failure;
    return { items: structuredClone(this.items.slice(offset, offset + perPage)), total: this.items.length };
  }
  async image(id: number) {
    const item = this.items.find((i) => i.id === id);
    return item ? structuredClone(item) : undefined;
  }
  async writeScore(id: number, meta: ScoreMeta, tier: string | undefined) {
    const failure = this.writeFailures.get(id);
    if (failure) throw failure;
    this.writes.push({ id, meta, tier });
    const item = this.items.find((i) => i.id === id);
    if (item) item.meta = { ...item.meta, ...meta };
  }
  scoredIds() {
    return this.writes.map((w) => w.id);
  }
}

class MemoryState implements StateStore {
  state: BackfillState | undefined;
  saves = 0;
  async load() {
    return this.state && structuredClone(this.state);
  }
  async save(state: BackfillState) {
    this.saves++;
    this.state = structuredClone(state);
  }
  async clear() {
    this.state = undefined;
  }
}

interface Harness {
  library: FakeLibrary;
  state: MemoryState;
  downloads: number[];
  scored: string[];
  sleeps: number[];
  events: ProgressEvent[];
  deps: BackfillDeps;
  controller: AbortController;
}

function harness(
  library: FakeLibrary,
  overrides: {
    download?: (id: number) => Promise<Buffer>;
    score?: (r: ScoreRequest) => ScoreOutcome;
    stopAfter?: number;
    state?: MemoryState;
  } = {},
): Harness {
  const h: Harness = {
    library,
    state: overrides.state ?? new MemoryState(),
    downloads: [],
    scored: [],
    sleeps: [],
    events: [],
    controller: new AbortController(),
  } as unknown as Harness;
  h.deps = {
    site: library,
    home: HOME,
    user: 'scorer',
    download: async (url) => {
      const id = Number(/(\d+)\.jpg$/.exec(url)![1]);
      h.downloads.push(id);
      return overrides.download ? overrides.download(id) : bytesOf(id);
    },
    score: async (requests) =>
      requests.map((r) => {
        h.scored.push(r.id);
        return overrides.score ? overrides.score(r) : { id: r.id, ok: true as const, result: result(6) };
      }),
    model: MODEL,
    state: h.state,
    retry: { retries: 3, sleep: async (ms) => void h.sleeps.push(ms), random: () => 1 },
    signal: h.controller.signal,
    onProgress: (e) => {
      h.events.push(e);
      if (overrides.stopAfter !== undefined && h.events.length >= overrides.stopAfter) h.controller.abort();
    },
    now: () => new Date('2026-11-30T12:00:00Z'),
  };
  return h;
}

const options = (extra: Partial<BackfillOptions> = {}): BackfillOptions => ({
  mode: 'unscored',
  batchSize: 2,
  pageSize: 3,
  ...extra,
});

const keyOf = (
  id: number,
  texts = { title: `photo ${id}`, caption: '', alt: '', description: '', comments: [] },
) => attachmentKey(HOME, { ...texts, id, sha256: sha(bytesOf(id)) }, MODEL);

describe('runBackfill', () => {
  it('scores every image page by page, oldest first, and writes what wp-webhook writes', async () => {
    const h = harness(new FakeLibrary([3, 1, 7, 4, 9, 12, 15]));
    const summary = await runBackfill(options(), h.deps);
    expect(summary).toMatchObject({
      scored: 7,
      rejected: 0,
      skipped: 0,
      failed: [],
      total: 7,
      interrupted: false,
    });
    expect(h.library.scoredIds()).toEqual([1, 3, 4, 7, 9, 12, 15]);
    const w = h.library.writes[0]!;
    expect(w.tier).toBe('average');
    expect(w.meta).toEqual({
      mmlq_model: 'fake@1.0.0',
      mmlq_scored_at: '2026-11-30T12:00:00.000Z',
      mmlq_key: keyOf(1),
      mmlq_score: 6,
      mmlq_std: 1.5,
      mmlq_percentile: 60,
      mmlq_tier: 'average',
      mmlq_attributes: '',
      mmlq_error: '',
    });
    // The text goes to a multi-modal model as the plugin orders it.
    expect(h.scored).toEqual(['1', '3', '4', '7', '9', '12', '15']);
    // Pages of 3, each read from one before the next position (that image must be one already done);
    // a short page ends the run.
    expect(h.library.lists.map((l) => l.offset)).toEqual([0, 2, 4, 6]);
    expect(h.state.state).toBeUndefined();
    expect(h.events.at(-1)).toMatchObject({ id: 15, status: 'scored', done: 7, total: 7 });
  });

  it('--unscored skips images with a stored key without downloading them', async () => {
    const library = new FakeLibrary([1, 2]);
    library.add(3, { mmlq_key: 'https://example.com#3#old@other@0.1' });
    const h = harness(library);
    const summary = await runBackfill(options(), h.deps);
    expect(summary).toMatchObject({ scored: 2, skipped: 1 });
    expect(h.downloads).toEqual([1, 2]);
  });

  it('--all skips an image whose key matches (no scoring, no write) and rescores a stale one', async () => {
    const library = new FakeLibrary([1]);
    library.add(2, { mmlq_key: keyOf(2) });
    library.add(3, { mmlq_key: keyOf(3).replace('@fake@1.0.0', '@fake@0.9.0') });
    const h = harness(library);
    const summary = await runBackfill(options({ mode: 'all' }), h.deps);
    expect(summary).toMatchObject({ scored: 2, skipped: 1 });
    expect(h.downloads).toEqual([1, 2, 3]);
    expect(h.library.scoredIds()).toEqual([1, 3]);
  });

  it('writes a bad image as wp-webhook does (mmlq_error, no tier) and counts it rejected', async () => {
    const h = harness(new FakeLibrary([1, 2]), {
      score: (r) =>
        r.id === '2'
          ? { id: r.id, ok: false, error: { code: 'IMAGE_CORRUPT', message: 'Truncated JPEG' } }
          : { id: r.id, ok: true, result: result(6) },
    });
    const summary = await runBackfill(options(), h.deps);
    expect(summary).toMatchObject({ scored: 1, rejected: 1, failed: [] });
    expect(h.library.writes[1]).toEqual({
      id: 2,
      tier: undefined,
      meta: {
        mmlq_model: 'fake@1.0.0',
        mmlq_scored_at: '2026-11-30T12:00:00.000Z',
        mmlq_key: keyOf(2),
        mmlq_error: 'IMAGE_CORRUPT: Truncated JPEG',
      },
    });
  });

  it('reports an image it could not download or score as failed, writes nothing for it, and goes on', async () => {
    const h = harness(new FakeLibrary([1, 2, 3]), {
      download: async (id) => {
        if (id === 1)
          throw new ImageError('IMAGE_NOT_FOUND', 'Expected an image at x but the server answered 404');
        return bytesOf(id);
      },
      score: (r) =>
        r.id === '3'
          ? { id: r.id, ok: false, error: { code: 'INFERENCE_FAILED', message: 'onnxruntime failed' } }
          : { id: r.id, ok: true, result: result(6) },
    });
    const summary = await runBackfill(options(), h.deps);
    expect(summary.failed).toEqual([
      { id: 1, code: 'IMAGE_NOT_FOUND', message: 'Expected an image at x but the server answered 404' },
      { id: 3, code: 'INFERENCE_FAILED', message: 'onnxruntime failed' },
    ]);
    expect(h.library.scoredIds()).toEqual([2]);
    expect(h.downloads).toEqual([1, 2, 3]); // 404 is not retried
    expect(exitCodeOf(summary)).toBe(1);
  });

  it('stops after the current image when aborted, saves its place, and a rerun finishes the rest once', async () => {
    const library = new FakeLibrary([1, 2, 3, 4, 5, 6, 7]);
    const first = harness(library, { stopAfter: 3 });
    const stopped = await runBackfill(options({ batchSize: 1 }), first.deps);
    expect(stopped).toMatchObject({ scored: 3, interrupted: true });
    expect(exitCodeOf(stopped)).toBe(130);
    expect(first.state.state).toMatchObject({
      lastId: 3,
      position: 3,
      failed: [],
      mode: 'unscored',
      model: 'fake@1.0.0',
    });

    const listed = library.lists.length;
    const second = harness(library, { state: first.state });
    const rest = await runBackfill(options(), second.deps);
    expect(rest).toMatchObject({ scored: 4, skipped: 0, resumed: true, interrupted: false });
    expect(library.scoredIds()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(second.downloads).toEqual([4, 5, 6, 7]);
    expect(library.lists[listed]?.offset).toBe(2); // resumed one before position 3
    expect(second.state.state).toBeUndefined();
  });

  it('scores the images already downloaded when aborted in the middle of a batch', async () => {
    const library = new FakeLibrary([1, 2, 3, 4]);
    const h = harness(library);
    h.deps.download = async (url) => {
      if (url.endsWith('/2.jpg')) h.controller.abort();
      return bytesOf(Number(/(\d+)\.jpg$/.exec(url)![1]));
    };
    const summary = await runBackfill(options({ batchSize: 4 }), h.deps);
    expect(summary).toMatchObject({ scored: 2, interrupted: true });
    expect(h.state.state?.lastId).toBe(2);
  });

  it('--limit stops after N writes and keeps the state', async () => {
    const library = new FakeLibrary([1, 2, 3, 4, 5]);
    const h = harness(library);
    const summary = await runBackfill(options({ limit: 2, batchSize: 8 }), h.deps);
    expect(summary).toMatchObject({ scored: 2, limited: true, interrupted: false });
    expect(h.downloads).toEqual([1, 2]);
    expect(exitCodeOf(summary)).toBe(0);
    expect(h.state.state?.lastId).toBe(2);
  });

  it('retries the failures of the run before first, and forgets those that are gone', async () => {
    const library = new FakeLibrary([1, 2, 3, 4, 5]);
    let broken = true;
    const first = harness(library, {
      stopAfter: 3,
      download: async (id) => {
        if (broken && (id === 1 || id === 2))
          throw new EdgeError('URL_NOT_ALLOWED', 'not on an allowed origin');
        return bytesOf(id);
      },
    });
    await runBackfill(options({ batchSize: 1 }), first.deps);
    expect(first.state.state?.failed.map((f) => f.id)).toEqual([1, 2]);
    expect(first.state.state?.lastId).toBe(3);
    broken = false;
    library.remove(2);
    const second = harness(library, { state: first.state });
    const summary = await runBackfill(options(), second.deps);
    expect(summary).toMatchObject({ scored: 3, gone: 1, failed: [] });
    expect(second.downloads).toEqual([1, 4, 5]);
    expect(library.scoredIds()).toEqual([3, 1, 4, 5]);
  });

  it('on resume after deletions before its place, steps back a page so nothing after it is missed', async () => {
    const library = new FakeLibrary([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const first = harness(library, { stopAfter: 6 });
    await runBackfill(options({ batchSize: 1 }), first.deps);
    expect(first.state.state).toMatchObject({ lastId: 6, position: 6 });
    for (const id of [1, 2, 3, 4, 5]) library.remove(id); // position 6 is now past image 7
    const second = harness(library, { state: first.state });
    const summary = await runBackfill(options(), second.deps);
    expect(summary.scored).toBe(4);
    expect(second.downloads).toEqual([7, 8, 9, 10]);
    expect(new Set(library.scoredIds()).size).toBe(10);
  });

  it('retries a list call on 429 as Retry-After asks, and on 503 with backoff', async () => {
    const library = new FakeLibrary([1]);
    library.listFailures = [
      new EdgeError('WORDPRESS_FAILED', 'answered 429', {
        cause: new WordPressHttpError('x (429)', 429, 7_000),
      }),
      new EdgeError('WORDPRESS_FAILED', 'answered 503', {
        cause: new WordPressHttpError('x (503)', 503, undefined),
      }),
    ];
    const h = harness(library);
    const summary = await runBackfill(options(), h.deps);
    expect(summary.scored).toBe(1);
    expect(h.sleeps).toEqual([7_000, 1_000]); // backoff of the 2nd attempt, jitter at its top (random 1)
  });

  it('refuses a page size that would make no progress', async () => {
    const h = harness(new FakeLibrary([1, 2]));
    await expect(runBackfill(options({ pageSize: 1 }), h.deps)).rejects.toThrow(
      'Expected a page size from 2 to 100 but received 1',
    );
  });

  it('a write that keeps failing makes the image failed, not the run', async () => {
    const library = new FakeLibrary([1, 2]);
    library.writeFailures.set(
      1,
      new EdgeError('WORDPRESS_FAILED', 'WordPress at x answered 502', {
        cause: new WordPressHttpError('(502)', 502, undefined),
      }),
    );
    const h = harness(library);
    const summary = await runBackfill(options(), h.deps);
    expect(summary.failed).toEqual([
      { id: 1, code: 'WORDPRESS_FAILED', message: 'WordPress at x answered 502' },
    ]);
    expect(h.sleeps).toHaveLength(3);
    expect(library.scoredIds()).toEqual([2]);
  });
});

describe('retries', () => {
  const wpError = (status: number, retryAfterMs?: number) =>
    new EdgeError('WORDPRESS_FAILED', `answered ${status}`, {
      cause: new WordPressHttpError(`(${status})`, status, retryAfterMs),
    });

  it('retries 408, 425, 429, 5xx, timeouts and fetch failures; not other 4xx or bad images', () => {
    for (const s of [408, 425, 429, 500, 502, 503, 504])
      expect(isRetryable(wpError(s)), String(s)).toBe(true);
    for (const s of [400, 401, 403, 404, 413]) expect(isRetryable(wpError(s)), String(s)).toBe(false);
    expect(
      isRetryable(new EdgeError('WORDPRESS_FAILED', 'WordPress at x did not answer within 30000 ms')),
    ).toBe(true);
    expect(isRetryable(new EdgeError('URL_FETCH_FAILED', 'Could not fetch x: ECONNRESET'))).toBe(true);
    expect(
      isRetryable(new EdgeError('URL_FETCH_FAILED', 'Expected 200 from x but the server answered 503')),
    ).toBe(true);
    expect(
      isRetryable(new EdgeError('URL_FETCH_FAILED', 'Expected 200 from x but the server answered 403')),
    ).toBe(false);
    expect(isRetryable(new ImageError('IMAGE_TOO_MANY_BYTES', 'too big'))).toBe(false);
    expect(isRetryable(new Error('boom'))).toBe(false);
  });

  it('backs off exponentially from 0.5 s to at most 30 s, jittered to 50-100 %', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffMs(a, () => 1))).toEqual([500, 1000, 2000, 4000, 30000]);
    expect(backoffMs(2, () => 0)).toBe(1000);
  });

  it('gives up after its retries, and at once when Retry-After asks for more than it waits', async () => {
    const sleeps: number[] = [];
    const opts = { retries: 2, sleep: async (ms: number) => void sleeps.push(ms), random: () => 1 };
    let calls = 0;
    await expect(
      withRetries(
        'x',
        async () => {
          calls++;
          throw wpError(503);
        },
        opts,
      ),
    ).rejects.toThrow('answered 503');
    expect(calls).toBe(3);
    expect(sleeps).toEqual([500, 1000]);
    calls = 0;
    await expect(
      withRetries(
        'x',
        async () => {
          calls++;
          throw wpError(429, MAX_RETRY_AFTER_MS + 1);
        },
        opts,
      ),
    ).rejects.toThrow('answered 429');
    expect(calls).toBe(1);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-30T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Mon, 30 Nov 2026 12:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Mon, 30 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('spaces calls to the rate, the first at once', async () => {
    let t = 1_000;
    const waits: number[] = [];
    const limit = rateLimiter(
      4,
      async (ms) => {
        waits.push(ms);
        t += ms;
      },
      () => t,
    );
    for (let i = 0; i < 4; i++) await limit();
    expect(waits).toEqual([250, 250, 250]);
    t += 1_000; // idle: no wait
    await limit();
    expect(waits).toHaveLength(3);
  });
});

describe('arguments, password and state file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mmlq-backfill-unit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('wants https, or http on loopback only with --allow-insecure-local', () => {
    expect(checkSiteUrl('https://example.com', false).href).toBe('https://example.com/');
    expect(checkSiteUrl('https://example.com/blog', false).href).toBe('https://example.com/blog/');
    expect(() => checkSiteUrl('http://example.com/', false)).toThrow(
      'Expected an https:// --site (the application password is sent with every request) but received http://example.com; for a site on this machine add --allow-insecure-local',
    );
    expect(checkSiteUrl('http://127.0.0.1:8088', true).href).toBe('http://127.0.0.1:8088/');
    expect(checkSiteUrl('http://localhost/', true).origin).toBe('http://localhost');
    expect(checkSiteUrl('http://[::1]:8080/', true).origin).toBe('http://[::1]:8080');
    expect(() => checkSiteUrl('http://10.0.0.5/', true)).toThrow(
      '--allow-insecure-local is for a site on this machine (localhost, 127.0.0.1, [::1]) but --site names 10.0.0.5',
    );
    expect(() => checkSiteUrl('https://u:p@example.com/', false)).toThrow('without user:password@');
    expect(() => checkSiteUrl('example.com', false)).toThrow(
      'Expected --site to be a URL like https://example.com/',
    );
    expect(() => checkSiteUrl('ftp://example.com/', true)).toThrow(
      '--allow-insecure-local is for a site on this machine',
    );
    expect(() => checkSiteUrl('ftp://example.com/', false)).toThrow(
      'Expected an https:// --site but received the scheme ftp:',
    );
  });

  it('takes image origins without a path, https unless local', () => {
    expect(checkImageOrigins(['https://cdn.example.com', 'https://img.example.com/'], false)).toEqual([
      'https://cdn.example.com',
      'https://img.example.com',
    ]);
    expect(() => checkImageOrigins(['https://cdn.example.com/uploads'], false)).toThrow('(no path)');
    expect(() => checkImageOrigins(['http://cdn.example.com'], false)).toThrow(
      'Expected an https:// --image-origin',
    );
    expect(checkImageOrigins(['http://127.0.0.1:9000'], true)).toEqual(['http://127.0.0.1:9000']);
  });

  it('reads the application password trimmed, and never puts it in a message', async () => {
    const file = join(dir, 'pw');
    await writeFile(file, '  abcd EFGH ijkl MNOP qrst UVWX \n');
    expect(await readAppPassword(file)).toBe('abcd EFGH ijkl MNOP qrst UVWX');
    await writeFile(file, ' \n');
    await expect(readAppPassword(file)).rejects.toThrow(
      `Expected an application password in ${file} but the file is empty`,
    );
    await writeFile(file, 'secret-one\nsecret-two\n');
    const error = await readAppPassword(file).catch((e: Error) => e);
    expect((error as Error).message).toBe(
      `Expected one line (the application password) in ${file} but it has several`,
    );
    await expect(readAppPassword(join(dir, 'missing'))).rejects.toThrow('to be a readable file: ENOENT');
  });

  it('keeps the state in the user cache folder by default, one file per site, user, mode and model', () => {
    expect(cacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache');
    expect(cacheDir({}, 'linux')).toMatch(/\.cache$/);
    expect(cacheDir({}, 'darwin')).toMatch(/Library\/Caches$/);
    const a = defaultStatePath({ XDG_CACHE_HOME: '/c' }, 'https://example.com/', 'u', 'unscored', 'm@1');
    expect(a).toMatch(/^\/c\/mmlq-edge\/backfill\/example\.com-[0-9a-f]{16}\.json$/);
    expect(defaultStatePath({ XDG_CACHE_HOME: '/c' }, 'https://example.com/', 'u', 'all', 'm@1')).not.toBe(a);
    expect(defaultStatePath({ XDG_CACHE_HOME: '/c' }, 'https://example.com/', 'u', 'unscored', 'm@1')).toBe(
      a,
    );
  });

  it('writes the state file private and whole, refuses one of another backfill, clears it', async () => {
    const path = join(dir, 'sub', 'state.json');
    const who = { site: 'https://example.com', user: 'u', mode: 'unscored' as const, model: 'm@1' };
    const store = fileStateStore(path, who);
    expect(await store.load()).toBeUndefined();
    const state: BackfillState = { version: 1, ...who, lastId: 9, position: 4, failed: [], updatedAt: 'now' };
    await store.save(state);
    expect(await store.load()).toEqual(state);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await expect(fileStateStore(path, { ...who, site: 'https://other.example' }).load()).rejects.toThrow(
      `The state file ${path} belongs to another backfill (site "https://example.com", this one "https://other.example"); pass another --state or --restart`,
    );
    await writeFile(path, '{"version":2}');
    await expect(store.load()).rejects.toThrow('to be a backfill state file (version 1)');
    await store.clear();
    expect(await store.load()).toBeUndefined();
    await expect(readFile(path)).rejects.toThrow();
  });

  it('answers usage errors with exit code 2 before touching the network', async () => {
    const pw = join(dir, 'pw2');
    await writeFile(pw, 'x');
    const run = async (args: string[]) => {
      let err = '';
      const code = await runCli(['wordpress', 'backfill', ...args], {
        stdout: () => {},
        stderr: (t) => {
          err += t;
        },
        interactive: false,
        cwd: dir,
        env: {},
      });
      return { code, err };
    };
    const base = ['--site', 'https://example.invalid/', '--user', 'u', '--app-password-file', pw];
    expect(await run(['--user', 'u', '--app-password-file', pw])).toMatchObject({
      code: 2,
      err: expect.stringContaining("required option '--site <url>' not specified"),
    });
    expect(await run([...base, '--all', '--unscored'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('Choose one of --all or --unscored'),
    });
    expect(await run([...base, '--rate', '0'])).toMatchObject({
      code: 2,
      err: expect.stringContaining(
        'Expected a number of requests per second in (0, 1000] for --rate but received 0',
      ),
    });
    expect(await run([...base, '--page-size', '101'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('Expected an integer from 2 to 100 for --page-size but received 101'),
    });
    // A page of one would be only the overlap with the page before: refused.
    expect(await run([...base, '--page-size', '1'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('Expected an integer from 2 to 100 for --page-size but received 1'),
    });
    expect(await run([...base.slice(0, 4), '--app-password-file', join(dir, 'nope')])).toMatchObject({
      code: 2,
      err: expect.stringContaining('to be a readable file: ENOENT'),
    });
  });
});
