/** wp-webhook's handler logic with a fake site and scorer: every branch the plugin acts on, no servers. */
import { describe, expect, it } from 'vitest';
import type { ItemOutcome } from '#core/clients/scorer-protocol.ts';
import { EdgeError } from '#core/common/errors.ts';
import { readWordPressConfig } from '#core/wp-webhook/config.ts';
import { signWebhook } from '#core/wp-webhook/signature.ts';
import type { ScoreMeta, WordPressSite } from '#core/wp-webhook/site.ts';
import { handleWebhook, seenDeliveries, WEBHOOK_PATH } from '#core/wp-webhook/webhook.ts';
import { countingMetrics, FakeScorer, httpEvent, MODEL, quietLogger, result } from '../helpers/fakes.ts';

const SECRET = 's'.repeat(64);
const NOW = 1_800_000_000_000;
const SITE = 'https://example.com/';
const config = readWordPressConfig({
  SCORER_FUNCTION_NAME: 'scorer',
  WP_SITE_URL: SITE,
  WP_USER: 'mmlq-bot',
  WP_WEBHOOK_SECRET: SECRET,
  WP_APP_PASSWORD: 'app password',
});

class FakeSite {
  stored: string | undefined = '';
  writes: { id: number; meta: ScoreMeta; tier: string | undefined }[] = [];
  failWrite?: Error;
  async storedKey() {
    return this.stored;
  }
  async writeScore(id: number, meta: ScoreMeta, tier: string | undefined) {
    if (this.failWrite) throw this.failWrite;
    this.writes.push({ id, meta, tier });
    this.stored = meta.mmlq_key;
  }
}

const attachment = (extra: Record<string, unknown> = {}) => ({
  id: 42,
  url: 'https://example.com/wp-content/uploads/cat.jpg',
  mime: 'image/jpeg',
  sha256: 'a'.repeat(64),
  caption: 'A cat',
  ...extra,
});

let deliveries = 0;
function delivery(
  body: unknown,
  { at = NOW, secret = SECRET, type = 'application/json', id = `d-${++deliveries}`, scheme = 'v2' } = {},
) {
  const text = JSON.stringify(body);
  const ts = Math.floor(at / 1000);
  return httpEvent('POST', WEBHOOK_PATH, {
    body: text,
    headers: {
      'content-type': type,
      'x-mmlq-timestamp': String(ts),
      'x-mmlq-signature': signWebhook(secret, ts, text, scheme === 'v2' ? id : undefined),
      'x-mmlq-delivery': id,
    },
  });
}

function setup(answer?: (id: string) => ItemOutcome | undefined, fail?: Error) {
  const site = new FakeSite();
  const scorer = new FakeScorer(
    answer ? (item) => answer(item.id) : (item) => ({ id: item.id, ok: true, result: result(7.5) }),
    fail,
  );
  const logger = quietLogger();
  const metrics = countingMetrics();
  const deps = {
    config,
    scorer,
    secrets: async () => ({ webhookSecret: SECRET, appPassword: 'app password' }),
    site: () => site as unknown as WordPressSite,
    logger,
    metrics,
    model: async () => MODEL,
    seen: seenDeliveries(config.wordpress.toleranceS),
    now: () => NOW,
  };
  const send = async (event: ReturnType<typeof delivery>) => {
    const r = await handleWebhook(event, deps);
    return { status: r.statusCode, body: JSON.parse(String(r.body)) };
  };
  return { site, scorer, metrics, logger, send };
}

const upload = (extra = {}) => ({ event: 'attachment.upload', site: SITE, attachment: attachment(extra) });

describe('wp-webhook', () => {
  it('answers a ping with pong and the model', async () => {
    const { send } = setup();
    expect(await send(delivery({ event: 'ping', site: SITE }))).toEqual({
      status: 200,
      body: { status: 'pong', model: MODEL },
    });
  });

  it('scores an upload, writes meta and the tier term, then answers duplicate for the same content', async () => {
    const { send, site, scorer } = setup();
    const first = await send(delivery(upload()));
    expect(first).toMatchObject({
      status: 200,
      body: { status: 'scored', attachment: 42, score: 7.5, tier: 'top' },
    });
    expect(scorer.jobs[0]!.items[0]).toEqual({
      id: '42',
      image: { url: 'https://example.com/wp-content/uploads/cat.jpg' },
      text: ['A cat'],
    });
    expect(site.writes).toHaveLength(1);
    expect(site.writes[0]).toMatchObject({ id: 42, tier: 'top', meta: { mmlq_score: 7.5, mmlq_error: '' } });
    // A new delivery (new id) of the same content: the stored key matches, nothing is rescored.
    const again = await send(delivery(upload()));
    expect(again.body.status).toBe('duplicate');
    expect(scorer.jobs).toHaveLength(1);
  });

  it('forwards the crop aspects and writes mmlq_crops (JSON) and mmlq_phash; other aspects rescore', async () => {
    const box = { left: 0, top: 10, width: 320, height: 180, score: 6.4 };
    const { send, site, scorer } = setup((id) => ({
      id,
      ok: true,
      result: { ...result(7.5), crops: [{ aspect: '16:9', ...box }] },
    }));
    expect((await send(delivery(upload({ crops: ['16:9'] })))).body.status).toBe('scored');
    expect(scorer.jobs[0]!.items[0]!.crops).toEqual(['16:9']);
    const meta = site.writes[0]!.meta;
    expect(JSON.parse(meta.mmlq_crops!)).toEqual([{ aspect: '16:9', ...box }]);
    expect(meta.mmlq_phash).toBe(result(7.5).image.phash);
    expect(meta.mmlq_key).toMatch(/@fake@1\.0\.0\+crops:16:9$/);
    expect((await send(delivery(upload({ crops: ['16:9'] })))).body.status).toBe('duplicate');
    // The site asks for another aspect: the stored score no longer answers it.
    expect((await send(delivery(upload({ crops: ['16:9', '1:1'] })))).body.status).toBe('scored');
    expect(scorer.jobs.map((j) => j.items[0]!.crops)).toEqual([['16:9'], ['16:9', '1:1']]);
  });

  it('writes empty mmlq_crops when no crops were asked, and refuses a bad aspect (400)', async () => {
    const { send, site } = setup();
    await send(delivery(upload()));
    expect(site.writes[0]!.meta.mmlq_crops).toBe('');
    const bad = await send(delivery(upload({ crops: ['16x9'] })));
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('attachment.crops.0');
  });

  it('answers a replayed delivery id duplicate without scoring, even before the first one wrote', async () => {
    const { send, scorer, site } = setup();
    const event = delivery(upload({ caption: 'replayed' }), { id: 'replay-me' });
    expect((await send(event)).body.status).toBe('scored');
    site.stored = ''; // as if the first delivery's write had not landed yet
    expect((await send(event)).body).toEqual({ status: 'duplicate', delivery: 'replay-me' });
    expect(scorer.jobs).toHaveLength(1);
  });

  it('refuses a captured delivery resent under a new delivery id (v2 signs the id)', async () => {
    const { send, scorer } = setup();
    const event = delivery(upload({ caption: 'captured' }), { id: 'original' });
    expect((await send(event)).body.status).toBe('scored');
    const resent = { ...event, headers: { ...event.headers, 'x-mmlq-delivery': 'fresh-id' } };
    const r = await send(resent);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('WEBHOOK_UNAUTHORIZED');
    expect(scorer.jobs).toHaveLength(1);
  });

  it('still takes a legacy v1 delivery (older plugins), without remembering its unsigned id', async () => {
    const { send, metrics } = setup();
    const r = await send(delivery(upload({ caption: 'legacy' }), { scheme: 'v1' }));
    expect(r.body.status).toBe('scored');
    expect(metrics.counts['LegacySignatures']).toBe(1);
  });

  it('answers gone when the attachment was deleted', async () => {
    const { send, site, scorer } = setup();
    site.stored = undefined;
    expect((await send(delivery(upload()))).body).toEqual({ status: 'gone', attachment: 42 });
    expect(scorer.jobs).toHaveLength(0);
  });

  it('writes a bad image as rejected (200, not retried)', async () => {
    const { send, site } = setup((id) => ({
      id,
      ok: false,
      error: { code: 'IMAGE_CORRUPT', message: 'truncated' },
    }));
    const r = await send(delivery(upload()));
    expect(r).toMatchObject({ status: 200, body: { status: 'rejected', error: { code: 'IMAGE_CORRUPT' } } });
    expect(site.writes[0]!.meta.mmlq_error).toBe('IMAGE_CORRUPT: truncated');
    expect(site.writes[0]!.tier).toBeUndefined();
  });

  it('answers 502 for a transient scorer outcome or no outcome, and 503 when the scorer is down', async () => {
    const transient = setup((id) => ({
      id,
      ok: false,
      error: { code: 'URL_FETCH_FAILED', message: 'reset' },
    }));
    expect((await transient.send(delivery(upload()))).status).toBe(502);
    expect(transient.site.writes).toHaveLength(0);
    const none = setup(() => undefined);
    expect((await none.send(delivery(upload()))).body.error.code).toBe('SCORER_FAILED');
    const down = setup(undefined, new EdgeError('SCORER_UNAVAILABLE', 'throttled'));
    const r = await down.send(delivery(upload()));
    expect(r).toEqual({
      status: 503,
      body: { error: { code: 'SCORER_UNAVAILABLE', message: 'The scorer is unavailable; retry later' } },
    });
  });

  it('answers 502 when the site cannot be written (the plugin retries)', async () => {
    const { send, site } = setup();
    site.failWrite = new EdgeError('WORDPRESS_FAILED', 'WordPress at https://example.com answered 500');
    expect((await send(delivery(upload()))).body.error.code).toBe('WORDPRESS_FAILED');
  });

  it('refuses a delivery from another site, a bad signature, a stale timestamp: 401', async () => {
    const { send, scorer } = setup();
    const other = await send(delivery({ ...upload(), site: 'https://evil.example.net/' }));
    expect(other.status).toBe(401);
    expect(other.body.error.message).toBe(
      'Expected deliveries from https://example.com but this one says it is from https://evil.example.net',
    );
    expect((await send(delivery(upload(), { secret: 'x'.repeat(64) }))).status).toBe(401);
    expect((await send(delivery(upload(), { at: NOW - 301_000 }))).status).toBe(401);
    expect(scorer.jobs).toHaveLength(0);
  });

  it('refuses another content type (415), a missing delivery id and an image off the allowed origins (400)', async () => {
    const { send } = setup();
    const form = await send(delivery(upload(), { type: 'application/x-www-form-urlencoded' }));
    expect(form.status).toBe(415);
    expect(form.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const noId = await send(delivery(upload(), { id: '' }));
    expect([noId.status, noId.body.error.message]).toEqual([
      400,
      'Expected the header X-MMLQ-Delivery to be a delivery id (a UUID) but received none',
    ]);
    const offsite = await send(delivery(upload({ url: 'https://cdn.elsewhere.net/cat.jpg' })));
    expect([offsite.status, offsite.body.error.code]).toEqual([400, 'URL_NOT_ALLOWED']);
  });

  it('takes at most as many comments as the scorer takes texts (46 + 4 fields = 50)', async () => {
    const { send } = setup();
    const many = await send(delivery(upload({ comments: Array(47).fill('nice') })));
    expect(many.status).toBe(400);
    expect(many.body.error.message).toContain('attachment.comments');
    expect((await send(delivery(upload({ comments: Array(46).fill('nice') })))).body.status).toBe('scored');
  });

  it('answers 404 for another route', async () => {
    const { send } = setup();
    const r = await send(httpEvent('GET', WEBHOOK_PATH));
    expect(r.status).toBe(404);
  });
});
