/** Library tiers (results/library.ts): the ranking rule, the summary, placing new images, the recompute. */
import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidArgumentError } from '#core/common/errors.ts';
import type { Logger } from '#core/common/observability.ts';
import { readLibraryTiersConfig } from '#core/library-tiers/config.ts';
import { recomputeLibraryTiers } from '#core/library-tiers/recompute.ts';
import { readUploadConfig } from '#core/on-upload/config.ts';
import { ignoreReason } from '#core/on-upload/uploads.ts';
import {
  LIBRARY_TAG,
  type LibraryEntry,
  LibraryStore,
  type LibrarySummary,
  libraryOf,
  libraryPercentile,
  libraryTierOf,
  mixedModels,
  parseLibraryShares,
  placeInLibrary,
  rankLibrary,
  standingWithin,
} from '#core/results/library.ts';
import { countingMetrics, FakeObjects, MODEL, quietLogger, result } from '../helpers/fakes.ts';

const SHARES = { top: 10, good: 35, average: 75 };

describe('libraryOf', () => {
  it.each([
    ['uploads/a.jpg', 0, 'uploads/'],
    ['uploads/x/y/a.jpg', 0, 'uploads/'],
    ['uploads/a.jpg', 1, 'uploads/'],
    ['uploads/x/a.jpg', 1, 'uploads/x/'],
    ['uploads/x/y/a.jpg', 1, 'uploads/x/'],
    ['uploads/x/y/a.jpg', 2, 'uploads/x/y/'],
    ['uploads/x/y/a.jpg', 5, 'uploads/x/y/'],
  ])('%s at depth %i is in %s', (key, depth, library) => {
    expect(libraryOf(key, { uploadPrefix: 'uploads/', depth })).toBe(library);
  });
});

describe('standingWithin (one batch)', () => {
  it('gives each score its percentile and tier among the others, ties sharing the better place, in input order', () => {
    expect(standingWithin([5, 9, 7, 9], SHARES)).toEqual([
      { percentile: 25, tier: 'low' },
      { percentile: 100, tier: 'top' },
      { percentile: 50, tier: 'average' },
      { percentile: 100, tier: 'top' },
    ]);
    expect(standingWithin([6.2])).toEqual([{ percentile: 100, tier: 'top' }]);
    expect(standingWithin([])).toEqual([]);
    // the same as ranking the scores as a library
    const scores = Array.from({ length: 20 }, (_, i) => ((i * 7) % 20) / 2);
    const { ranked } = rankLibrary(
      scores.map((score, i) => ({ key: String(i), score, model: 'm@1' })),
      SHARES,
    );
    const byKey = new Map(ranked.map((r) => [r.entry.key, { percentile: r.percentile, tier: r.tier }]));
    expect(standingWithin(scores, SHARES)).toEqual(scores.map((_, i) => byKey.get(String(i))));
  });
});

describe('ranking', () => {
  it('follows the WordPress rule: best N % by rank, rounded to whole images, at least the best one', () => {
    // 20 images: top = ranks 1-2, good = 3-7, average = 8-15, low = 16-20.
    const tiers = Array.from({ length: 20 }, (_, above) => libraryTierOf(above, 20, SHARES));
    expect(tiers.join(',')).toBe(
      [
        ...Array(2).fill('top'),
        ...Array(5).fill('good'),
        ...Array(8).fill('average'),
        ...Array(5).fill('low'),
      ].join(','),
    );
    expect(libraryTierOf(0, 3, SHARES)).toBe('top'); // 10 % of 3 rounds to 0: the best one still is
    // 35 % of 3 rounds to 1 (no good place left), 75 % to 2.
    expect(libraryTierOf(1, 3, SHARES)).toBe('average');
    expect(libraryTierOf(2, 3, SHARES)).toBe('low');
    expect(libraryPercentile(0, 20)).toBe(100);
    expect(libraryPercentile(19, 20)).toBe(5);
  });

  it('ranks best first with ties sharing the better place, and the summary places each entry where it ranked', () => {
    const scores = [9, 8.5, 8.5, 8, 7, 7, 7, 6.5, 6, 5.5, 5, 5, 4.5, 4, 3.5, 3, 2.5, 2, 1.5, 1];
    const entries: LibraryEntry[] = scores.map((score, i) => ({
      key: `uploads/${i}.jpg`,
      score,
      model: 'm@1',
    }));
    const { ranked, cutoffs, percentiles } = rankLibrary([...entries].reverse(), SHARES);
    expect(ranked.map((r) => r.entry.score)).toEqual(scores);
    // ranks 2 and 3 tie at 8.5: both take rank 2, so both are top.
    expect(ranked.slice(0, 4).map((r) => r.tier)).toEqual(['top', 'top', 'top', 'good']);
    expect(ranked[1]!.percentile).toBe(95);
    expect(ranked[2]!.percentile).toBe(95);
    // top: ranks 1-2, good: 3-7, average: 8-15 (3.5 is rank 15).
    expect(cutoffs).toEqual({ top: 8.5, good: 7, average: 3.5 });
    expect(percentiles).toHaveLength(101);
    expect(percentiles[100]).toBe(9);
    expect(percentiles[0]).toBe(1);
    for (let p = 1; p <= 100; p++) expect(percentiles[p]!).toBeGreaterThanOrEqual(percentiles[p - 1]!);
    const summary = { count: ranked.length, cutoffs } as LibrarySummary;
    for (const r of ranked) expect(placeInLibrary(r.entry.score, summary)).toBe(r.tier);
    // A new score between two tiers lands in the lower one; above the best, top; below all, low.
    expect(placeInLibrary(8.4, summary)).toBe('good');
    expect(placeInLibrary(10, summary)).toBe('top');
    expect(placeInLibrary(0.5, summary)).toBe('low');
    expect(placeInLibrary(5, undefined)).toBeUndefined();
  });

  it('parses shares and refuses what cannot rank', () => {
    expect(parseLibraryShares(' 5, 20,60', 'x')).toEqual({ top: 5, good: 20, average: 60 });
    for (const bad of ['10,35', '0,35,75', '35,10,75', '10,35,101', '10.5,35,75', 'a,b,c', '10,35,75,90']) {
      expect(() => parseLibraryShares(bad, '--shares'), bad).toThrow(InvalidArgumentError);
    }
  });

  it('reads LIBRARY_TIERS and LIBRARY_DEPTH (default on, one library), "off", and refuses nonsense', () => {
    const base = { SCORER_FUNCTION_NAME: 's' };
    expect(readUploadConfig(base).library).toEqual({
      layout: { uploadPrefix: 'uploads/', depth: 0 },
      shares: SHARES,
    });
    expect(readUploadConfig({ ...base, LIBRARY_TIERS: 'off' }).library).toBeUndefined();
    expect(readUploadConfig({ ...base, LIBRARY_TIERS: '5,20,50', LIBRARY_DEPTH: '2' }).library).toEqual({
      layout: { uploadPrefix: 'uploads/', depth: 2 },
      shares: { top: 5, good: 20, average: 50 },
    });
    expect(() => readUploadConfig({ ...base, LIBRARY_TIERS: '50,20,10' })).toThrow(ConfigError);
    expect(() => readUploadConfig({ ...base, LIBRARY_DEPTH: '-1' })).toThrow(ConfigError);
  });

  it('never scores an upload whose result would be a library summary', () => {
    const config = readUploadConfig({ SCORER_FUNCTION_NAME: 's', UPLOAD_SUFFIXES: '' });
    expect(ignoreReason('uploads/x.mmlq-library', config)).toMatch(/library summary/);
    expect(ignoreReason('uploads/x.jpg', config)).toBeUndefined();
  });
});

describe('LibraryStore.recompute (fake S3; the real one in test/integration/library-tiers.test.ts)', () => {
  const one = (n: number) => ({ [`${MODEL.name}@${MODEL.version}`]: n });

  async function stored(
    objects: FakeObjects,
    key: string,
    outcome: number | 'error',
    version = MODEL.version,
  ) {
    await objects.put({ bucket: 'b', key }, `image ${key}`, 'image/jpeg'); // the upload itself
    const doc =
      outcome === 'error'
        ? { ok: false, error: { code: 'IMAGE_CORRUPT', message: 'x' } }
        : { ok: true, result: result(outcome) };
    return objects.putJson(
      { bucket: 'b', key: `results/${key}.json` },
      {
        source: { bucket: 'b', key, etag: 'e' },
        model: { name: MODEL.name, version },
        ...doc,
      },
    );
  }

  it('ranks each library, writes its summary, re-tags only what changed, and skips unchanged libraries', async () => {
    const objects = new FakeObjects();
    const store = new LibraryStore(objects.asStore(), 'results/', { uploadPrefix: 'uploads/', depth: 1 });
    for (let i = 0; i < 10; i++) await stored(objects, `uploads/a/${i}.jpg`, i + 1);
    await stored(objects, 'uploads/a/bad.jpg', 'error');
    for (let i = 0; i < 4; i++) await stored(objects, `uploads/b/${i}.jpg`, 5 - i);
    await stored(objects, 'uploads/top-level.jpg', 6);
    const first = await store.recompute('b', { shares: SHARES, now: () => new Date('2026-12-01T00:00:00Z') });
    expect(first.libraries).toEqual([
      {
        library: 'uploads/',
        count: 1,
        read: 1,
        retagged: 1,
        gone: 0,
        orphaned: 0,
        unchanged: false,
        models: one(1),
      },
      // 11 results read, the error result not ranked
      {
        library: 'uploads/a/',
        count: 10,
        read: 11,
        retagged: 10,
        gone: 0,
        orphaned: 0,
        unchanged: false,
        models: one(10),
      },
      {
        library: 'uploads/b/',
        count: 4,
        read: 4,
        retagged: 4,
        gone: 0,
        orphaned: 0,
        unchanged: false,
        models: one(4),
      },
    ]);
    const a = await objects.getJson<LibrarySummary>({
      bucket: 'b',
      key: 'results/uploads/a/.mmlq-library.json',
    });
    expect(a).toMatchObject({
      count: 10,
      cutoffs: { top: 10, good: 7, average: 3 },
      models: { 'fake@1.0.0': 10 },
      retagged: true,
      computedAt: '2026-12-01T00:00:00.000Z',
    });
    const tag = (key: string) => objects.tags.get(`b/${key}`)?.[LIBRARY_TAG];
    expect([10, 9, 8, 7, 6, 5, 4, 3, 2, 1].map((s) => tag(`uploads/a/${s - 1}.jpg`))).toEqual([
      'top',
      'good',
      'good',
      'good',
      'average',
      'average',
      'average',
      'average',
      'low',
      'low',
    ]);
    expect(tag('uploads/a/bad.jpg')).toBeUndefined();

    // Nothing new: every library is skipped after the listing.
    objects.tags.clear();
    const again = await store.recompute('b', { shares: SHARES });
    expect(again.libraries.every((l) => l.unchanged)).toBe(true);
    expect(objects.tags.size).toBe(0);

    // Two better images arrive in a/ (on-upload placed both against the summary: top): only the images
    // whose tier moved are re-tagged.
    await stored(objects, 'uploads/a/new1.jpg', 11);
    await stored(objects, 'uploads/a/new2.jpg', 12);
    expect([placeInLibrary(11, a), placeInLibrary(12, a)]).toEqual(['top', 'top']);
    const third = await store.recompute('b', { shares: SHARES });
    expect(third.libraries.find((l) => l.library === 'uploads/a/')).toMatchObject({
      count: 12,
      unchanged: false,
    });
    // Was (10 images): top = rank 1, good = 2-4, average = 5-8, low = 9-10. Now (12): top = rank 1,
    // good = 2-4, average = 5-9, low = 10-12. new2 (12) stays top; the others below moved.
    expect(
      Object.fromEntries([...objects.tags].map(([k, t]) => [k.slice('b/uploads/a/'.length), t[LIBRARY_TAG]])),
    ).toEqual({
      'new1.jpg': 'good', // 11: placed top, now rank 2
      '9.jpg': 'good', // 10: was top
      '7.jpg': 'average', // 8: was good
      '6.jpg': 'average', // 7: was good
      '2.jpg': 'low', // 3: was average
    });
  });

  it('reports the model versions it ranked, and says when a library mixes them (after a model change)', async () => {
    const objects = new FakeObjects();
    const store = new LibraryStore(objects.asStore(), 'results/', { uploadPrefix: 'uploads/', depth: 0 });
    for (let i = 0; i < 3; i++) await stored(objects, `uploads/${i}.jpg`, i + 4);
    const first = await store.recompute('b', { shares: SHARES });
    expect(first.libraries[0]!.models).toEqual(one(3));
    expect(mixedModels(first.libraries[0]!.models)).toBeUndefined();
    // Two uploads scored by the next version (and one error result of it, not ranked).
    await stored(objects, 'uploads/new1.jpg', 7, '2.0.0');
    await stored(objects, 'uploads/new2.jpg', 3, '2.0.0');
    await stored(objects, 'uploads/new3.jpg', 'error', '2.0.0');
    const mixed = await store.recompute('b', { shares: SHARES });
    const models = { 'fake@1.0.0': 3, 'fake@2.0.0': 2 };
    expect(mixed.libraries[0]).toMatchObject({ count: 5, unchanged: false, models });
    expect(mixedModels(models)).toBe(
      'scores of 2 model versions ranked together (fake@1.0.0: 3, fake@2.0.0: 2); rescore the library with one model (mmlq-edge bucket backfill) for one scale',
    );
    // An unchanged library reports the models of its summary.
    expect((await store.recompute('b', { shares: SHARES })).libraries[0]).toMatchObject({
      unchanged: true,
      models,
    });
    // The schedule (functions/library-tiers) logs it as a warning, with the counts.
    const warnings: unknown[][] = [];
    const logger = quietLogger();
    logger.warn = ((...args: unknown[]) => warnings.push(args)) as Logger['warn'];
    await recomputeLibraryTiers({
      config: readLibraryTiersConfig({ BUCKET: 'b', AWS_REGION: 'eu-west-1' }),
      objects: objects.asStore(),
      logger,
      metrics: countingMetrics(),
    });
    expect(warnings).toEqual([[mixedModels(models), { bucket: 'b', library: 'uploads/', models }]]);
  });

  it('reads a result again when it changed (rescored), and every result when the index is unreadable or with full', async () => {
    const objects = new FakeObjects();
    const store = new LibraryStore(objects.asStore(), 'results/', { uploadPrefix: 'uploads/', depth: 0 });
    for (let i = 0; i < 5; i++) await stored(objects, `uploads/${i}.jpg`, i + 1);
    await store.recompute('b', { shares: SHARES });
    await stored(objects, 'uploads/0.jpg', 9); // rescored (a new model): now the best
    const rescored = await store.recompute('b', { shares: SHARES });
    expect(rescored.libraries[0]).toMatchObject({ count: 5, read: 1 });
    const summary = await objects.getJson<LibrarySummary>({
      bucket: 'b',
      key: 'results/uploads/.mmlq-library.json',
    });
    expect(summary?.cutoffs).toEqual({ top: 9, good: 5, average: 3 });
    await objects.put({ bucket: 'b', key: 'results/uploads/.mmlq-library-index.json.gz' }, 'not gzip', 'x');
    await stored(objects, 'uploads/5.jpg', 2);
    expect((await store.recompute('b', { shares: SHARES })).libraries[0]).toMatchObject({
      count: 6,
      read: 6,
    });
    expect((await store.recompute('b', { shares: SHARES, full: true })).libraries[0]).toMatchObject({
      count: 6,
      read: 6,
      retagged: 6,
    });
  });

  it('leaves images deleted since they were scored out of the ranking (their results stay)', async () => {
    const objects = new FakeObjects();
    const store = new LibraryStore(objects.asStore(), 'results/', { uploadPrefix: 'uploads/', depth: 0 });
    for (let i = 0; i < 5; i++) await stored(objects, `uploads/${i}.jpg`, i + 1);
    expect((await store.recompute('b', { shares: SHARES })).libraries[0]).toMatchObject({
      count: 5,
      orphaned: 0,
    });
    // The best image is deleted: the library is ranked again without it, its result is kept.
    objects.objects.delete('b/uploads/4.jpg');
    objects.tags.clear();
    const after = await store.recompute('b', { shares: SHARES });
    expect(after.libraries[0]).toMatchObject({ count: 4, orphaned: 1, unchanged: false, gone: 0 });
    const summary = await objects.getJson<LibrarySummary>({
      bucket: 'b',
      key: 'results/uploads/.mmlq-library.json',
    });
    expect(summary).toMatchObject({ count: 4, orphaned: 1 });
    // 4 images: top = rank 1 (at least the best), no good place (35 % rounds to 1), average = ranks 2-3.
    expect(summary?.cutoffs).toEqual({ top: 4, average: 2 });
    expect(objects.tags.get('b/uploads/4.jpg')).toBeUndefined();
    // 4 (was good) is now the best: top.
    expect(objects.tags.get('b/uploads/3.jpg')?.[LIBRARY_TAG]).toBe('top');
    expect(objects.keys('b/results/uploads/4.jpg')).toEqual(['b/results/uploads/4.jpg.json']);
    // Nothing changed since: skipped; the image uploaded again: ranked again.
    expect((await store.recompute('b', { shares: SHARES })).libraries[0]).toMatchObject({ unchanged: true });
    await objects.put({ bucket: 'b', key: 'uploads/4.jpg' }, 'image uploads/4.jpg', 'image/jpeg');
    expect((await store.recompute('b', { shares: SHARES })).libraries[0]).toMatchObject({
      count: 5,
      orphaned: 0,
      read: 0,
    });
  });

  it('refuses a prefix inside a library (it would rank part of it)', async () => {
    const store = new LibraryStore(new FakeObjects().asStore(), 'results/', {
      uploadPrefix: 'uploads/',
      depth: 0,
    });
    await expect(store.recompute('b', { shares: SHARES, within: 'uploads/a/' })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(store.recompute('b', { shares: SHARES, within: 'elsewhere/' })).rejects.toThrow(
      InvalidArgumentError,
    );
  });
});
