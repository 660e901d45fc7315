/** score-api's handler logic with fake S3 and scorer: every branch, no servers. */
import { describe, expect, it } from 'vitest';
import { EdgeError } from '#core/common/errors.ts';
import { handleApiRequest } from '#core/score-api/api.ts';
import { readApiConfig } from '#core/score-api/config.ts';
import {
  countingMetrics,
  FakeObjects,
  FakeScorer,
  httpEvent,
  quietLogger,
  result,
} from '../helpers/fakes.ts';

const config = readApiConfig({
  BUCKET: 'media',
  SCORER_FUNCTION_NAME: 'scorer',
  URL_ALLOWED_ORIGINS: 'https://images.example.com',
});

function setup(scorer = new FakeScorer()) {
  const objects = new FakeObjects();
  const logger = quietLogger();
  const metrics = countingMetrics();
  const call = async (event: ReturnType<typeof httpEvent>) => {
    const response = await handleApiRequest(event, {
      config,
      objects: objects.asStore(),
      scorer,
      logger,
      metrics,
    });
    return { status: response.statusCode, body: JSON.parse(String(response.body)) };
  };
  const post = (body: unknown) =>
    call(
      httpEvent('POST', '/v1/scores', {
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      }),
    );
  return { objects, scorer, logger, metrics, call, post };
}

describe('score-api: caller mistakes are 4xx before the scorer is called', () => {
  it.each([
    ['more than 50 texts', { url: 'https://images.example.com/a.jpg', text: Array(51).fill('nice') }, 'text'],
    [
      'a text over 20,000 characters',
      { url: 'https://images.example.com/a.jpg', text: 'x'.repeat(20_001) },
      'text',
    ],
    ['a key over 1024 characters', { s3: { bucket: 'media', key: `uploads/${'k'.repeat(1020)}` } }, 's3.key'],
    ['a URL over 4096 characters', { url: `https://images.example.com/${'u'.repeat(4096)}` }, 'url'],
    ['an id over 1024 characters', { url: 'https://images.example.com/a.jpg', id: 'i'.repeat(1025) }, 'id'],
    [
      'both url and s3',
      { url: 'https://images.example.com/a.jpg', s3: { bucket: 'media', key: 'uploads/a' } },
      'the body',
    ],
    ['an unknown field', { url: 'https://images.example.com/a.jpg', colour: 'red' }, 'the body'],
    ['a crop aspect that is not W:H', { url: 'https://images.example.com/a.jpg', crops: ['16x9'] }, 'crops'],
    [
      'more than 4 crop aspects',
      { url: 'https://images.example.com/a.jpg', crops: ['1:1', '2:1', '3:1', '4:1', '5:1'] },
      'crops',
    ],
  ])('answers 400 INVALID_ARGUMENT for %s', async (_, body, field) => {
    const { post, scorer, objects } = setup();
    const { status, body: answer } = await post(body);
    expect(status).toBe(400);
    expect(answer.error.code).toBe('INVALID_ARGUMENT');
    expect(answer.error.message).toContain(field === 'the body' ? 'the body' : `the body.${field}`);
    expect(scorer.jobs).toHaveLength(0);
    expect(objects.keys()).toEqual([]);
  });

  it('names the item of a batch that is wrong', async () => {
    const { post } = setup();
    const ok = { url: 'https://images.example.com/a.jpg' };
    const { status, body } = await post({ items: [ok, { ...ok, text: Array(51).fill('x') }] });
    expect(status).toBe(400);
    expect(body.error.message).toMatch(/^Expected an input .* but items\[1\]\.text is invalid: /);
  });

  it('answers 413 for a job over what a scorer takes in one call (Lambda invoke: 6 MB), before invoking', async () => {
    const { LambdaScorerClient } = await import('#core/clients/scorer-client.ts');
    const lambda = new LambdaScorerClient(config.scorer, 'us-east-1');
    const objects = new FakeObjects();
    const items = Array.from({ length: 16 }, (_, i) => ({
      url: `https://images.example.com/${i}.jpg`,
      text: Array(20).fill('x'.repeat(20_000)),
    }));
    const r = await handleApiRequest(
      httpEvent('POST', '/v1/scores', {
        body: JSON.stringify({ items }),
        headers: { 'content-type': 'application/json' },
      }),
      {
        config,
        objects: objects.asStore(),
        scorer: lambda,
        logger: quietLogger(),
        metrics: countingMetrics(),
      },
    );
    expect(r.statusCode).toBe(413);
    expect(JSON.parse(String(r.body)).error.message).toMatch(
      /^Expected a scoring job of at most 6000000 bytes \(Lambda's invoke limit\) but this one is \d+ bytes/,
    );
  });

  it('refuses an s3 key outside the readable prefixes, naming them', async () => {
    const { post, scorer } = setup();
    const { status, body } = await post({ s3: { bucket: 'media', key: 'results/uploads/a.jpg.json' } });
    expect(status).toBe(400);
    expect(body.error.message).toBe(
      'Expected the body.s3.key to start with "uploads/" or "api-uploads/" but received "results/uploads/a.jpg.json"',
    );
    expect(scorer.jobs).toHaveLength(0);
  });

  it('refuses another bucket and a URL outside the allowed origins', async () => {
    const { post } = setup();
    expect((await post({ s3: { bucket: 'other', key: 'uploads/a.jpg' } })).body.error.message).toContain(
      'Expected the body.s3.bucket to be one of media',
    );
    const url = await post({ url: 'https://evil.example.com/a.jpg' });
    expect(url.status).toBe(400);
    expect(url.body.error.code).toBe('URL_NOT_ALLOWED');
  });

  it('answers 413 for image bytes over MAX_IMAGE_BYTES and 415 for another content type', async () => {
    const { call } = setup();
    const big = await call(
      httpEvent('POST', '/v1/scores', {
        body: Buffer.alloc(config.maxImageBytes + 1, 1),
        headers: { 'content-type': 'image/jpeg' },
      }),
    );
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const text = await call(
      httpEvent('POST', '/v1/scores', { body: 'hello', headers: { 'content-type': 'text/plain' } }),
    );
    expect(text.status).toBe(415);
  });

  it('answers 400 for a malformed percent-escape in a result id, 404 for an unknown route', async () => {
    const { call } = setup();
    const bad = await call(httpEvent('GET', '/v1/scores/%'));
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe(
      'Expected the result id to be a percent-encoded path segment but received "%"',
    );
    expect((await call(httpEvent('DELETE', '/v1/scores'))).status).toBe(404);
  });
});

describe('score-api: results', () => {
  it('stores each answer under api-results/ with a fresh 128-bit id, never under results/', async () => {
    const { post, call, objects, metrics } = setup();
    const body = { s3: { bucket: 'media', key: 'uploads/cat.jpg' } };
    const first = await post(body);
    const second = await post(body);
    expect(first.status).toBe(200);
    expect(first.body.resultId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(second.body.resultId).not.toBe(first.body.resultId);
    expect(objects.keys()).toEqual(
      [
        `media/api-results/${first.body.resultId}.json`,
        `media/api-results/${second.body.resultId}.json`,
      ].sort(),
    );
    const stored = await call(httpEvent('GET', `/v1/scores/${first.body.resultId}`));
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({
      id: first.body.resultId,
      source: { s3: { bucket: 'media', key: 'uploads/cat.jpg', etag: 'etag' } },
      ok: true,
      result: { score: 6.5 },
    });
    expect(metrics.counts['ImagesScored']).toBe(2);
  });

  it('answers 404 for ids it never gave, including the old base64-of-key ids', async () => {
    const { call } = setup();
    for (const id of ['dXBsb2Fkcy9jYXQuanBn', 'AAAAAAAAAAAAAAAAAAAAAA', 'url.abc']) {
      const r = await call(httpEvent('GET', `/v1/scores/${id}`));
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('RESULT_NOT_FOUND');
    }
  });

  it("gives each scored item of a batch its standing among the batch's scored images, and a single image none", async () => {
    const scores: Record<string, number> = { a: 4.5, b: 7.25, c: 6 };
    const scorer = new FakeScorer((item) => {
      const name = (item.image as { url: string }).url.slice(-5, -4);
      return name === 'x'
        ? { id: item.id, ok: false, error: { code: 'IMAGE_CORRUPT', message: 'broken' } }
        : { id: item.id, ok: true, result: result(scores[name]!) };
    });
    const { post } = setup(scorer);
    const url = (name: string) => ({ url: `https://images.example.com/${name}.jpg` });
    const { status, body } = await post({ items: [url('a'), url('x'), url('b'), url('c')] });
    expect(status).toBe(200);
    expect(body.items.map((i: any) => [i.ok, i.batch])).toEqual([
      // 3 scored: top = the best, no good place (35 % of 3 rounds to 1), average = rank 2 (75 % → 2)
      [true, { percentile: 33.3, tier: 'low' }],
      [false, undefined],
      [true, { percentile: 100, tier: 'top' }],
      [true, { percentile: 66.7, tier: 'average' }],
    ]);
    const single = await post(url('b'));
    expect(single.status).toBe(200);
    expect(single.body.score).toBe(7.25);
    expect(single.body.batch).toBeUndefined();
  });

  it('forwards crop aspects per item and answers the boxes the scorer found', async () => {
    const box = { aspect: '16:9', left: 10, top: 0, width: 320, height: 180, score: 6.1 };
    const scorer = new FakeScorer((item) => ({
      id: item.id,
      ok: true,
      result: {
        ...result(6.5),
        ...(item.crops ? { crops: item.crops.map((aspect) => ({ ...box, aspect })) } : {}),
      },
    }));
    const { post, call } = setup(scorer);
    const url = 'https://images.example.com/a.jpg';
    const { status, body } = await post({ items: [{ url, crops: ['16:9', '1:1'] }, { url }] });
    expect(status).toBe(200);
    expect(scorer.jobs[0]!.items.map((i) => i.crops)).toEqual([['16:9', '1:1'], undefined]);
    expect(body.items[0].crops).toEqual([box, { ...box, aspect: '1:1' }]);
    expect(body.items[0].image.phash).toMatch(/^[0-9a-f]{16}$/);
    expect(body.items[1].crops).toBeUndefined();
    // Posted bytes name their aspects in the query.
    await call(
      httpEvent('POST', '/v1/scores', {
        body: Buffer.from('bytes'),
        headers: { 'content-type': 'image/jpeg' },
        query: { crops: '4:5,3:2' },
      }),
    );
    expect(scorer.jobs[1]!.items[0]!.crops).toEqual(['4:5', '3:2']);
    const bad = await call(
      httpEvent('POST', '/v1/scores', {
        body: Buffer.from('bytes'),
        headers: { 'content-type': 'image/jpeg' },
        query: { crops: 'wide' },
      }),
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('"crops" aspects as W:H');
    expect(scorer.jobs).toHaveLength(2);
  });

  it('stages posted bytes under a key of their own per request, named by their digest', async () => {
    const { call, objects, scorer } = setup();
    const bytes = Buffer.from('not really a jpeg');
    const post = () =>
      call(httpEvent('POST', '/v1/scores', { body: bytes, headers: { 'content-type': 'image/jpeg' } }));
    const [a, b] = await Promise.all([post(), post()]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const staged = objects.keys('media/api-uploads/');
    expect(staged).toHaveLength(2);
    for (const key of staged)
      expect(key).toMatch(/^media\/api-uploads\/[0-9a-f]{64}-[A-Za-z0-9_-]{22}\.jpg$/);
    const sent = scorer.jobs.map((j) => j.items[0]!.image);
    expect(sent).toHaveLength(2);
    expect(sent).toEqual(
      expect.arrayContaining(staged.map((k) => ({ s3: { bucket: 'media', key: k.slice('media/'.length) } }))),
    );
    const doc = await call(httpEvent('GET', `/v1/scores/${a.body.resultId}`));
    expect(doc.body.source).toEqual({ upload: { sha256: a.body.id } });
  });

  it('reports an item the scorer answered nothing for as INTERNAL, and stores that too', async () => {
    const { post, metrics } = setup(new FakeScorer(() => undefined));
    const { status, body } = await post({ items: [{ url: 'https://images.example.com/a.jpg' }] });
    expect(status).toBe(200);
    expect(body.items[0]).toMatchObject({
      ok: false,
      error: { code: 'INTERNAL', message: 'The scorer answered no outcome for this item' },
    });
    expect(body.items[0].resultId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(metrics.counts['Error_INTERNAL']).toBe(1);
  });

  it('answers a single failed item with its own status', async () => {
    const { post } = setup(
      new FakeScorer((item) => ({
        id: item.id,
        ok: false,
        error: { code: 'IMAGE_CORRUPT', message: 'bad' },
      })),
    );
    const { status, body } = await post({ url: 'https://images.example.com/a.jpg' });
    expect(status).toBe(422);
    expect(body.error).toEqual({ code: 'IMAGE_CORRUPT', message: 'bad' });
  });

  it('keeps 5xx answers generic and logs the cause', async () => {
    const { post, logger } = setup(
      new FakeScorer(undefined, new EdgeError('SCORER_UNAVAILABLE', 'lambda throttled: secret detail')),
    );
    const { status, body } = await post({ url: 'https://images.example.com/a.jpg' });
    expect(status).toBe(503);
    expect(body.error).toEqual({
      code: 'SCORER_UNAVAILABLE',
      message: 'The scorer is unavailable; retry later',
    });
    expect(JSON.stringify(logger.errors)).toContain('secret detail');
  });

  it('hands out a presigned PUT under the staging prefix for a large image, then scores it by { s3 }', async () => {
    const { call, post } = setup();
    const r = await call(
      httpEvent('POST', '/v1/uploads', {
        body: JSON.stringify({ contentType: 'image/jpeg' }),
        headers: { 'content-type': 'application/json' },
      }),
    );
    expect(r.status).toBe(200);
    expect(r.body.s3).toEqual({
      bucket: 'media',
      key: expect.stringMatching(/^api-uploads\/[A-Za-z0-9_-]{22}\.jpg$/),
    });
    expect(r.body.upload).toEqual({
      method: 'PUT',
      url: `https://fake-s3.example/media/${r.body.s3.key}?type=image%2Fjpeg&expires=900`,
      headers: { 'content-type': 'image/jpeg' },
      expiresInS: 900,
    });
    expect((await post({ s3: r.body.s3 })).status).toBe(200);
  });

  it('refuses an upload of a type it cannot score (415) and a body that is not JSON (400)', async () => {
    const { call } = setup();
    const heic = await call(
      httpEvent('POST', '/v1/uploads', { body: JSON.stringify({ contentType: 'image/heic' }) }),
    );
    expect(heic.status).toBe(415);
    expect(heic.body.error.message).toBe(
      'Expected "contentType" to be one of image/jpeg, image/png, image/webp, image/gif, image/avif, image/tiff but received "image/heic"',
    );
    const torn = await call(httpEvent('POST', '/v1/uploads', { body: '{' }));
    expect([torn.status, torn.body.error.message]).toEqual([
      400,
      'Expected a JSON body { "contentType": "image/jpeg" } but it does not parse',
    ]);
    const scores = await call(
      httpEvent('POST', '/v1/scores', { body: '{', headers: { 'content-type': 'application/json' } }),
    );
    expect([scores.status, scores.body.error.message]).toEqual([
      400,
      'Expected a JSON body but it does not parse',
    ]);
  });

  it('answers health with the scorer model', async () => {
    const { call } = setup();
    const r = await call(httpEvent('GET', '/v1/health'));
    expect(r).toEqual({
      status: 200,
      body: {
        status: 'ok',
        model: { name: 'fake', version: '1.0.0', provider: 'cpu', multimodal: true },
        scorer: 'fake-scorer',
      },
    });
  });
});
