/** on-upload for S3 Batch Operations (schema 2.0) with a fake S3 and scorer: every task answer. */
import { describe, expect, it } from 'vitest';
import type { ItemOutcome } from '#core/clients/scorer-protocol.ts';
import { EdgeError } from '#core/common/errors.ts';
import { handleBatchEvent, isBatchOperationsEvent } from '#core/on-upload/batch-operations.ts';
import { readUploadConfig } from '#core/on-upload/config.ts';
import { countingMetrics, FakeObjects, FakeScorer, MODEL, quietLogger, result } from '../helpers/fakes.ts';

const config = readUploadConfig({ SCORER_FUNCTION_NAME: 'scorer' });
const BODY = 'jpeg bytes';
const ETAG = FakeObjects.etagOf({ body: Buffer.from(BODY) });

/** A Batch Operations invocation, keys URL-encoded as Batch Operations sends them. */
function batchEvent(...keys: string[]) {
  return {
    invocationSchemaVersion: '2.0',
    invocationId: 'inv-1',
    job: { id: 'job-1', userArguments: {} },
    tasks: keys.map((key, i) => ({
      taskId: `t${i}`,
      s3Bucket: 'media',
      s3Key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+'),
      s3VersionId: null,
    })),
  };
}

function setup(answer?: (id: string) => ItemOutcome | undefined, fail?: Error) {
  const objects = new FakeObjects();
  const scorer = new FakeScorer(
    answer
      ? (item) => answer(item.id)
      : // As the real scorer: the ETag of what it read (the object's own).
        (item) => ({ id: item.id, ok: true, result: result(7.5), source: { etag: ETAG } }),
    fail,
  );
  const deps = {
    config,
    objects: objects.asStore(),
    scorer,
    logger: quietLogger(),
    metrics: countingMetrics(),
    model: async () => MODEL,
  };
  const upload = (key: string) => objects.put({ bucket: 'media', key }, Buffer.from(BODY), 'image/jpeg');
  return { objects, scorer, upload, run: (event: unknown) => handleBatchEvent(event, deps) };
}

describe('on-upload for S3 Batch Operations', () => {
  it('scores an existing object and answers Succeeded; its result carries the object ETag read from S3', async () => {
    const { run, upload, objects } = setup();
    await upload('uploads/red flower+1.jpg');
    expect(await run(batchEvent('uploads/red flower+1.jpg'))).toEqual({
      invocationSchemaVersion: '2.0',
      treatMissingKeysAs: 'PermanentFailure',
      invocationId: 'inv-1',
      results: [{ taskId: 't0', resultCode: 'Succeeded', resultString: 'scored 7.5 top' }],
    });
    const doc = JSON.parse(
      objects.objects.get('media/results/uploads/red flower+1.jpg.json')!.body.toString(),
    );
    expect(doc.idempotencyKey).toBe(`media/uploads/red flower+1.jpg#${ETAG}@fake@1.0.0`);
  });

  it('answers Succeeded "duplicate" the second time, without calling the scorer', async () => {
    const { run, upload, scorer } = setup();
    await upload('uploads/a.jpg');
    await run(batchEvent('uploads/a.jpg'));
    const again = await run(batchEvent('uploads/a.jpg'));
    expect(again.results[0]).toMatchObject({
      resultCode: 'Succeeded',
      resultString: expect.stringMatching(/^duplicate/),
    });
    expect(scorer.jobs).toHaveLength(1);
  });

  it('answers PermanentFailure with the code for a bad image, and writes its error result', async () => {
    const { run, upload, objects } = setup((id) => ({
      id,
      ok: false,
      error: { code: 'IMAGE_CORRUPT', message: 'truncated' },
    }));
    await upload('uploads/bad.jpg');
    const { results } = await run(batchEvent('uploads/bad.jpg'));
    expect(results[0]).toEqual({
      taskId: 't0',
      resultCode: 'PermanentFailure',
      resultString: 'IMAGE_CORRUPT: truncated',
    });
    expect(objects.tags.get('media/uploads/bad.jpg')).toMatchObject({ 'aesthetic-error': 'IMAGE_CORRUPT' });
    expect(objects.keys('media/results/')).toEqual(['media/results/uploads/bad.jpg.json']);
  });

  it('answers PermanentFailure for an object gone since the manifest, writing nothing', async () => {
    const { run, objects, scorer } = setup();
    const { results } = await run(batchEvent('uploads/gone.jpg'));
    expect(results[0]).toMatchObject({
      resultCode: 'PermanentFailure',
      resultString: expect.stringMatching(
        /^IMAGE_NOT_FOUND: s3:\/\/media\/uploads\/gone\.jpg does not exist/,
      ),
    });
    expect(scorer.jobs).toHaveLength(0);
    expect(objects.keys('media/results/')).toEqual([]);
  });

  it('answers PermanentFailure for keys on-upload does not score (outside the prefix, other suffix)', async () => {
    const { run, upload } = setup();
    await upload('other/a.jpg');
    await upload('uploads/notes.txt');
    const { results } = await run(batchEvent('other/a.jpg', 'uploads/notes.txt'));
    expect(results.map((r) => [r.resultCode, r.resultString])).toEqual([
      ['PermanentFailure', 'not scored: not under the upload prefix uploads/'],
      ['PermanentFailure', expect.stringMatching(/^not scored: suffix not among \.jpg/)],
    ]);
  });

  it('answers TemporaryFailure when the scorer is down (Batch Operations retries), writing nothing', async () => {
    const { run, upload, objects } = setup(undefined, new EdgeError('SCORER_UNAVAILABLE', 'scorer down'));
    await upload('uploads/a.jpg');
    const { results } = await run(batchEvent('uploads/a.jpg'));
    expect(results[0]).toEqual({ taskId: 't0', resultCode: 'TemporaryFailure', resultString: 'scorer down' });
    expect(objects.keys('media/results/')).toEqual([]);
  });

  it('answers TemporaryFailure when S3 fails', async () => {
    const { run, upload, objects } = setup();
    await upload('uploads/a.jpg');
    objects.failing.add('head');
    const { results } = await run(batchEvent('uploads/a.jpg'));
    expect(results[0]).toMatchObject({ resultCode: 'TemporaryFailure', resultString: 'fake head failure' });
  });

  it('refuses schema 1.0 and malformed invocations with a typed error naming the problem', async () => {
    const { run } = setup();
    await expect(run({ ...batchEvent('uploads/a.jpg'), invocationSchemaVersion: '1.0' })).rejects.toThrow(
      'Expected an S3 Batch Operations invocation of schema 2.0 but received schema "1.0": create the job with InvocationSchemaVersion 2.0',
    );
    await expect(run({ ...batchEvent('uploads/a.jpg'), tasks: [] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(
        /^Expected an S3 Batch Operations invocation \(schema 2\.0\) but tasks is invalid/,
      ),
    });
    expect(isBatchOperationsEvent(batchEvent('x'))).toBe(true);
    expect(isBatchOperationsEvent({ Records: [] })).toBe(false);
  });
});
