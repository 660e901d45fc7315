import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EdgeError, InvalidArgumentError } from '#core/common/errors.ts';
import { attachmentKey, attachmentTexts, parseWebhookPayload } from '#core/wp-webhook/payload.ts';
import { checkSecrets } from '#core/wp-webhook/secrets.ts';
import { signWebhook, verifyWebhook } from '#core/wp-webhook/signature.ts';

const SECRET = 'a'.repeat(64);
const NOW = 1_800_000_000;

function request(body: string, headers: Record<string, string>) {
  return { body: Buffer.from(body), header: (name: string) => headers[name.toLowerCase()] };
}

function code(run: () => void): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(EdgeError);
    return `${(error as EdgeError).code} ${(error as EdgeError).status}: ${(error as Error).message}`;
  }
  return 'accepted';
}

describe('webhook signatures', () => {
  const body = '{"event":"ping","site":"https://example.com/"}';

  it('is HMAC-SHA256 over "<timestamp>.<delivery>.<body>", hex, v2= (what the PHP plugin computes); v1 without the id', () => {
    const v2 = createHmac('sha256', SECRET).update(`${NOW}.d-1.${body}`).digest('hex');
    expect(signWebhook(SECRET, NOW, body, 'd-1')).toBe(`v2=${v2}`);
    const v1 = createHmac('sha256', SECRET).update(`${NOW}.${body}`).digest('hex');
    expect(signWebhook(SECRET, NOW, body)).toBe(`v1=${v1}`);
  });

  it('v2 binds the delivery id: another id does not verify; v1 is answered as the legacy scheme', () => {
    const signed = {
      'x-mmlq-timestamp': String(NOW),
      'x-mmlq-delivery': 'd-1',
      'x-mmlq-signature': signWebhook(SECRET, NOW, body, 'd-1'),
    };
    expect(verifyWebhook(request(body, signed), SECRET, 300, NOW)).toBe('v2');
    expect(
      code(() => verifyWebhook(request(body, { ...signed, 'x-mmlq-delivery': 'd-2' }), SECRET, 300, NOW)),
    ).toMatch(/does not match$/);
    const legacy = { 'x-mmlq-timestamp': String(NOW), 'x-mmlq-signature': signWebhook(SECRET, NOW, body) };
    expect(verifyWebhook(request(body, legacy), SECRET, 300, NOW)).toBe('v1');
  });

  it('accepts a correct signature within the window and refuses everything else with 401', () => {
    const signed = { 'x-mmlq-timestamp': String(NOW), 'x-mmlq-signature': signWebhook(SECRET, NOW, body) };
    expect(code(() => verifyWebhook(request(body, signed), SECRET, 300, NOW + 299))).toBe('accepted');
    expect(code(() => verifyWebhook(request(body, signed), SECRET, 300, NOW - 299))).toBe('accepted');
    expect(code(() => verifyWebhook(request(body, signed), SECRET, 300, NOW + 301))).toBe(
      'WEBHOOK_UNAUTHORIZED 401: Expected a timestamp within 300 s of now but it is 301 s off (a replay, or a clock to fix)',
    );
    // one byte of the body changed, another secret, a signature of another timestamp
    expect(code(() => verifyWebhook(request(`${body} `, signed), SECRET, 300, NOW))).toMatch(
      /does not match$/,
    );
    expect(code(() => verifyWebhook(request(body, signed), 'b'.repeat(64), 300, NOW))).toMatch(
      /does not match$/,
    );
    const moved = { ...signed, 'x-mmlq-timestamp': String(NOW + 1) };
    expect(code(() => verifyWebhook(request(body, moved), SECRET, 300, NOW))).toMatch(/does not match$/);
    expect(code(() => verifyWebhook(request(body, {}), SECRET, 300, NOW))).toBe(
      'WEBHOOK_UNAUTHORIZED 401: Expected the headers X-MMLQ-Timestamp and X-MMLQ-Signature but received no timestamp and no signature',
    );
    const notANumber = { ...signed, 'x-mmlq-timestamp': '12e9' };
    expect(code(() => verifyWebhook(request(body, notANumber), SECRET, 300, NOW))).toBe(
      'WEBHOOK_UNAUTHORIZED 401: Expected X-MMLQ-Timestamp to be unix seconds',
    );
  });
});

describe('webhook payload', () => {
  const attachment = {
    id: 42,
    url: 'https://example.com/wp-content/uploads/2026/11/rocket.jpg',
    mime: 'image/jpeg',
    sha256: 'ab'.repeat(32),
    title: 'Launch',
    caption: '<em>Crisp</em> &amp; bright',
    alt: 'A rocket',
    description: '',
    comments: ['Lovely light!', '   '],
  };
  const payload = (extra: Record<string, unknown> = {}) =>
    Buffer.from(
      JSON.stringify({ event: 'attachment.upload', site: 'https://example.com/', attachment, ...extra }),
    );

  it('parses what the plugin sends and reads the texts in model order, markup removed', () => {
    const parsed = parseWebhookPayload(payload());
    if (parsed.event === 'ping') throw new Error('expected an attachment event');
    expect(attachmentTexts(parsed.attachment)).toEqual([
      'Crisp & bright',
      'A rocket',
      'Launch',
      'Lovely light!',
    ]);
    expect(parseWebhookPayload(Buffer.from('{"event":"ping","site":"https://example.com/"}')).event).toBe(
      'ping',
    );
  });

  it('names every problem of a bad body', () => {
    const bad = (body: Buffer) => {
      try {
        parseWebhookPayload(body);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidArgumentError);
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(bad(Buffer.from('nope'))).toBe('Expected a JSON body from the MMLQ Edge WordPress plugin');
    expect(bad(payload({ attachment: { ...attachment, id: -1, mime: 'video/mp4' } }))).toBe(
      'Invalid webhook body: attachment.id: Too small: expected number to be >0; attachment.mime: an image/* type',
    );
    expect(bad(payload({ event: 'attachment.deleted' }))).toMatch(/^Invalid webhook body: event: /);
  });

  it('keys a score by site, attachment, image bytes, text and model', () => {
    const parsed = parseWebhookPayload(payload());
    if (parsed.event === 'ping') throw new Error('expected an attachment event');
    const model = { name: 'm', version: '1.0.0' };
    const key = attachmentKey(parsed.site, parsed.attachment, model);
    expect(key).toMatch(new RegExp(`^https://example\\.com#42#${'ab'.repeat(32)}#[0-9a-f]{16}@m@1\\.0\\.0$`));
    expect(attachmentKey('https://example.com/blog/', parsed.attachment, model)).toBe(key);
    const changes = [
      attachmentKey(parsed.site, { ...parsed.attachment, caption: 'blurry' }, model),
      attachmentKey(parsed.site, { ...parsed.attachment, sha256: 'cd'.repeat(32) }, model),
      attachmentKey(parsed.site, parsed.attachment, { name: 'm', version: '1.0.1' }),
      attachmentKey('https://other.example/', parsed.attachment, model),
    ];
    expect(new Set([key, ...changes]).size).toBe(5);
  });
});

describe('WordPress secrets', () => {
  it('requires both secrets and a webhook secret of at least 32 characters', () => {
    expect(checkSecrets({ webhookSecret: SECRET, appPassword: 'x' }, 'P')).toEqual({
      webhookSecret: SECRET,
      appPassword: 'x',
    });
    expect(() => checkSecrets({ webhookSecret: SECRET }, 'SSM parameter /p')).toThrow(
      'SSM parameter /p must hold {"webhookSecret": "...", "appPassword": "..."}',
    );
    expect(() => checkSecrets({ webhookSecret: 'short', appPassword: 'x' }, 'P')).toThrow(
      "P: webhookSecret must be the plugin's secret (at least 32 characters)",
    );
  });
});
