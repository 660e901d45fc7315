/**
 * Signed webhooks from the WordPress plugin (plugins/wordpress/mmlq-edge):
 *
 *   X-MMLQ-Timestamp: <unix seconds>
 *   X-MMLQ-Delivery:  <a new id per attempt>
 *   X-MMLQ-Signature: v2=<hex HMAC-SHA256(secret, "<timestamp>.<delivery>.<exact request body>")>
 *
 * The signature covers the exact bytes received (never a re-serialisation), the timestamp and the
 * delivery id, so a captured delivery cannot be replayed outside the tolerance window, nor inside it
 * under a new delivery id (the function remembers the ids it took); the comparison is constant-time.
 * `v1=` (no delivery id; plugins before 0.2.0) is still accepted, without the delivery-id check.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { EdgeError } from '../common/errors.ts';

export const SIGNATURE_HEADER = 'x-mmlq-signature';
export const TIMESTAMP_HEADER = 'x-mmlq-timestamp';
export const DELIVERY_HEADER = 'x-mmlq-delivery';

/** v2 when a delivery id is given (what the plugin sends), else the legacy v1. */
export function signWebhook(
  secret: string,
  timestamp: number,
  body: string | Buffer,
  delivery?: string,
): string {
  const mac = createHmac('sha256', secret);
  mac.update(delivery === undefined ? `${timestamp}.` : `${timestamp}.${delivery}.`);
  mac.update(body);
  return `${delivery === undefined ? 'v1' : 'v2'}=${mac.digest('hex')}`;
}

export interface SignedRequest {
  body: Buffer;
  /** Header lookup, case-insensitive. */
  header: (name: string) => string | undefined;
}

/**
 * Throws WEBHOOK_UNAUTHORIZED (401) unless the request is signed with `secret` within `toleranceS`.
 * Answers the scheme: with `v2` the X-MMLQ-Delivery header is part of what was signed.
 */
export function verifyWebhook(
  request: SignedRequest,
  secret: string,
  toleranceS: number,
  nowS = Math.floor(Date.now() / 1000),
): 'v1' | 'v2' {
  const stamp = request.header(TIMESTAMP_HEADER);
  const signature = request.header(SIGNATURE_HEADER);
  if (!stamp || !signature) {
    throw new EdgeError(
      'WEBHOOK_UNAUTHORIZED',
      `Expected the headers X-MMLQ-Timestamp and X-MMLQ-Signature but received ${[
        stamp ? undefined : 'no timestamp',
        signature ? undefined : 'no signature',
      ]
        .filter(Boolean)
        .join(' and ')}`,
    );
  }
  if (!/^\d{1,12}$/.test(stamp)) {
    throw new EdgeError('WEBHOOK_UNAUTHORIZED', 'Expected X-MMLQ-Timestamp to be unix seconds');
  }
  const skew = Math.abs(nowS - Number(stamp));
  if (skew > toleranceS) {
    throw new EdgeError(
      'WEBHOOK_UNAUTHORIZED',
      `Expected a timestamp within ${toleranceS} s of now but it is ${skew} s off (a replay, or a clock to fix)`,
    );
  }
  const scheme = signature.trim().startsWith('v2=') ? 'v2' : 'v1';
  const delivery = scheme === 'v2' ? (request.header(DELIVERY_HEADER) ?? '') : undefined;
  const expected = Buffer.from(signWebhook(secret, Number(stamp), request.body, delivery));
  const received = Buffer.from(signature.trim());
  if (expected.length !== received.length || !timingSafeEqual(expected, received)) {
    throw new EdgeError(
      'WEBHOOK_UNAUTHORIZED',
      'Expected X-MMLQ-Signature to be v2=<HMAC-SHA256 of "<timestamp>.<delivery>.<body>" with the shared secret> (or the legacy v1= over "<timestamp>.<body>") but it does not match',
    );
  }
  return scheme;
}
