/** on-upload's handler logic with a fake S3 and scorer: every branch, no servers. */
import { describe, expect, it } from 'vitest';
import type { ItemOutcome } from '#core/clients/scorer-protocol.ts';
import { ConfigError, EdgeError } from '#core/common/errors.ts';
import { readUploadConfig } from '#core/on-upload/config.ts';
import { handleUploadEvent } from '#core/on-upload/uploads.ts';
import { countingMetrics, FakeObjects, FakeScorer, MODEL, quietLogger, result } from '../helpers/fakes.ts';

const config = readUploadConfig({ SCORER_FUNCTION_NAME: 'scorer' });

function s3Event(...keys: string[]) {
  return {
    Records: keys.map((key) => ({
      eventSource: 'aws:s3',
      eventName: 'ObjectCreated:Put',
      s3: {
        bucket: { name: 'media' },
        object: { key: encodeURIComponent(key).replace(/%2F/g, '/'), eTag: 'e1' },
      },
    })),
  };
}

function setup(answer?: (id: string) => ItemOutcome | undefined, fail?: Error, cfg = config) {
  const objects = new FakeObjects();
  const scorer = new FakeScorer(
    answer
      ? (item) => answer(item.id)
      : (item) => ({ id: item.id, ok: true, result: result(7.5), source: { etag: 'e1' } }),
    fail,
  );
  const metrics = countingMetrics();
  const deps = {
    config: cfg,
    objects: objects.asStore(),
    scorer,
    logger: quietLogger(),
    metrics,
    model: async () => MODEL,
  };
  return { objects, scorer, metrics, deps, run: (event: unknown) => handleUploadEvent(event, deps) };
}

describe('on-upload', () => {
  it("places a scored upload in its library as the library's summary stands (aesthetic-library-tier)", async () => {
    const { run, objects } = setup();
    // Before any summary: no library tier (the first recompute gives one).
    expect((await run(s3Event('uploads/first.jpg'))).records[0]).not.toHaveProperty('libraryTier');
    await objects.putJson(
      { bucket: 'media', key: 'results/uploads/.mmlq-library.json' },
      { count: 40, cutoffs: { top: 8, good: 7, average: 5 } },
    );
    expect((await run(s3Event('uploads/cat.jpg'))).records[0]).toMatchObject({
      tier: 'top',
      libraryTier: 'good',
    });
    expect(objects.tags.get('media/uploads/cat.jpg')).toMatchObject({
      'aesthetic-tier': 'top',
      'aesthetic-library-tier': 'good',
    });
    // LIBRARY_TIERS=off: no library tier, whatever the summary says.
    const off = setup(
      undefined,
      undefined,
      readUploadConfig({ SCORER_FUNCTION_NAME: 'scorer', LIBRARY_TIERS: 'off' }),
    );
    await off.objects.putJson(
      { bucket: 'media', key: 'results/uploads/.mmlq-library.json' },
      { count: 40, cutoffs: { top: 8, good: 7, average: 5 } },
    );
    expect((await off.run(s3Event('uploads/cat.jpg'))).records[0]).not.toHaveProperty('libraryTier');
    expect(off.objects.tags.get('media/uploads/cat.jpg')).not.toHaveProperty('aesthetic-library-tier');
  });

  it('scores an upload: tags first, then the result document with its idempotency key', async () => {
    const { run, objects } = setup();
    expect(await run(s3Event('uploads/cat.jpg'))).toEqual({
      records: [{ bucket: 'media', key: 'uploads/cat.jpg', status: 'scored', score: 7.5, tier: 'top' }],
    });
    expect(objects.tags.get('media/uploads/cat.jpg')).toEqual({
      'aesthetic-model': 'fake@1.0.0',
      'aesthetic-score': '7.5',
      'aesthetic-tier': 'top',
    });
    const doc = JSON.parse(objects.objects.get('media/results/uploads/cat.jpg.json')!.body.toString());
    expect(doc).toMatchObject({
      ok: true,
      source: { bucket: 'media', key: 'uploads/cat.jpg', etag: 'e1' },
      idempotencyKey: 'media/uploads/cat.jpg#e1@fake@1.0.0',
    });
  });

  it('asks for no crops by default, and for the CROP_ASPECTS crops, stored in the result JSON', async () => {
    expect(config.cropAspects).toEqual([]);
    const plain = setup();
    await plain.run(s3Event('uploads/cat.jpg'));
    expect(plain.scorer.jobs[0]!.items[0]!.crops).toBeUndefined();

    const withCrops = readUploadConfig({ SCORER_FUNCTION_NAME: 'scorer', CROP_ASPECTS: '16:9, 1:1' });
    expect(withCrops.cropAspects).toEqual(['16:9', '1:1']);
    const box = { left: 0, top: 12, width: 640, height: 360, score: 6.2 };
    const { run, scorer, objects } = setup(
      (id) => ({
        id,
        ok: true,
        result: { ...result(7.5), crops: [{ aspect: '16:9', ...box }] },
        source: { etag: 'e1' },
      }),
      undefined,
      withCrops,
    );
    await run(s3Event('uploads/cat.jpg'));
    expect(scorer.jobs[0]!.items[0]!.crops).toEqual(['16:9', '1:1']);
    const doc = JSON.parse(objects.objects.get('media/results/uploads/cat.jpg.json')!.body.toString());
    expect(doc.result.crops).toEqual([{ aspect: '16:9', ...box }]);
    expect(doc.result.image.phash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('fails at cold start on a bad CROP_ASPECTS, naming it', () => {
    expect(() => readUploadConfig({ SCORER_FUNCTION_NAME: 'scorer', CROP_ASPECTS: '16:9,wide' })).toThrow(
      ConfigError,
    );
    expect(() =>
      readUploadConfig({ SCORER_FUNCTION_NAME: 'scorer', CROP_ASPECTS: '1:1,2:1,3:1,4:1,5:1' }),
    ).toThrow(/^Environment variable CROP_ASPECTS must be up to 4 comma-separated aspects W:H/);
  });

  it('answers duplicate for the same object version and model, without calling the scorer', async () => {
    const { run, scorer } = setup();
    await run(s3Event('uploads/cat.jpg'));
    expect((await run(s3Event('uploads/cat.jpg'))).records[0]!.status).toBe('duplicate');
    expect(scorer.jobs).toHaveLength(1);
  });

  it('commits one result of concurrent deliveries of the same event; the others answer duplicate', async () => {
    const { run, objects, scorer } = setup();
    const event = s3Event('uploads/cat.jpg');
    const reports = await Promise.all([run(event), run(event), run(event), run(event)]);
    const statuses = reports.map((r) => r.records[0]!.status).sort();
    // All four found no result and scored (at-least-once delivery, same instant); one result commits.
    expect(scorer.jobs).toHaveLength(4);
    expect(statuses).toEqual(['duplicate', 'duplicate', 'duplicate', 'scored']);
    expect(objects.conditionalWrites).toBe(4);
    expect(objects.keys('media/results/')).toEqual(['media/results/uploads/cat.jpg.json']);
  });

  it('rescores an object the previous model version scored (after a model change), replacing its result', async () => {
    const { run, objects, scorer, deps } = setup();
    await run(s3Event('uploads/cat.jpg'));
    const next = { ...MODEL, version: '2.0.0' };
    deps.model = async () => next;
    scorer.model = next;
    expect((await run(s3Event('uploads/cat.jpg'))).records[0]!.status).toBe('scored');
    expect(scorer.jobs).toHaveLength(2);
    const doc = JSON.parse(objects.objects.get('media/results/uploads/cat.jpg.json')!.body.toString());
    expect(doc.idempotencyKey).toBe('media/uploads/cat.jpg#e1@fake@2.0.0');
    expect(doc.model).toMatchObject({ name: 'fake', version: '2.0.0' });
    expect(objects.tags.get('media/uploads/cat.jpg')).toMatchObject({ 'aesthetic-model': 'fake@2.0.0' });
    // ...and the next delivery under the new model is a duplicate again.
    expect((await run(s3Event('uploads/cat.jpg'))).records[0]!.status).toBe('duplicate');
  });

  it('replaces the result of an earlier version (If-Match the document it saw)', async () => {
    let etag = 'e1';
    const { run, objects } = setup((id) => ({ id, ok: true, result: result(6), source: { etag } }));
    await run(s3Event('uploads/cat.jpg'));
    etag = 'e2';
    const newer = s3Event('uploads/cat.jpg');
    newer.Records[0]!.s3.object.eTag = 'e2';
    expect((await run(newer)).records[0]!.status).toBe('scored');
    const doc = JSON.parse(objects.objects.get('media/results/uploads/cat.jpg.json')!.body.toString());
    expect(doc.idempotencyKey).toBe('media/uploads/cat.jpg#e2@fake@1.0.0');
  });

  it.each([
    ['elsewhere/cat.jpg', 'not under the upload prefix uploads/'],
    ['uploads/notes.pdf', 'suffix not among .jpg, .jpeg, .png, .webp, .gif, .avif, .tif, .tiff'],
  ])('ignores %s (%s)', async (key, reason) => {
    const { run, scorer, objects } = setup();
    expect((await run(s3Event(key))).records).toEqual([{ bucket: 'media', key, status: 'ignored', reason }]);
    expect(scorer.jobs).toHaveLength(0);
    expect(objects.keys()).toEqual([]);
  });

  it('records a bad image as a typed error result and an error tag (not retried)', async () => {
    const { run, objects, metrics } = setup((id) => ({
      id,
      ok: false,
      error: { code: 'IMAGE_CORRUPT', message: 'truncated' },
    }));
    const { records } = await run(s3Event('uploads/broken.jpg'));
    expect(records[0]).toMatchObject({ status: 'rejected', error: { code: 'IMAGE_CORRUPT' } });
    expect(objects.tags.get('media/uploads/broken.jpg')).toMatchObject({
      'aesthetic-error': 'IMAGE_CORRUPT',
    });
    expect(metrics.counts['Error_IMAGE_CORRUPT']).toBe(1);
  });

  it('fails the invocation (so Lambda retries) when the scorer answers no outcome, writing nothing', async () => {
    const { run, objects } = setup(() => undefined);
    await expect(run(s3Event('uploads/cat.jpg'))).rejects.toThrow(
      '1 object(s) could not be scored: The scorer answered no outcome for uploads/cat.jpg',
    );
    expect(objects.keys()).toEqual([]);
  });

  it('fails the invocation for a transient outcome, after finishing the other records', async () => {
    const { run, objects } = setup((id) =>
      id === 'uploads/a.jpg'
        ? { id, ok: false, error: { code: 'URL_FETCH_FAILED', message: 'reset' } }
        : { id, ok: true, result: result(5), source: { etag: 'e1' } },
    );
    const failure = run(s3Event('uploads/a.jpg', 'uploads/b.jpg'));
    await expect(failure).rejects.toMatchObject({ code: 'SCORER_UNAVAILABLE' });
    expect(objects.keys('media/results/')).toEqual(['media/results/uploads/b.jpg.json']);
  });

  it('fails the invocation when the scorer is down', async () => {
    const { run } = setup(undefined, new EdgeError('SCORER_UNAVAILABLE', 'throttled'));
    await expect(run(s3Event('uploads/cat.jpg'))).rejects.toThrow(/could not be scored: throttled/);
  });

  it('never writes a result when tagging fails (the result is the commit marker)', async () => {
    const { run, objects } = setup();
    objects.failing.add('mergeTags');
    await expect(run(s3Event('uploads/cat.jpg'))).rejects.toMatchObject({ code: 'SCORER_UNAVAILABLE' });
    expect(objects.keys('media/results/')).toEqual([]);
  });
});
