/**
 * Signed webhooks from the WordPress plugin (plugins/wordpress/mmlq-edge):
 *
 *   X-MMLQ-Timestamp: <unix seconds>
 *   X-MMLQ-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<exact request body>")>
 *
 * The signature covers the exact bytes received (never a re-serialisation) and the timestamp, so a
 * captured delivery cannot be replayed outside the tolerance window; the comparison is constant-time.
 * Deliveries inside the window are harmless to repeat: every write is idempotent.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { EdgeError } from '../common/errors.ts';

export const SIGNATURE_HEADER = 'x-mmlq-signature';
export const TIMESTAMP_HEADER = 'x-mmlq-timestamp';
export const DELIVERY_HEADER = 'x-mmlq-delivery';
const SCHEME = 'v1=';

export function signWebhook(secret: string, timestamp: number, body: string | Buffer): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${timestamp}.`);
  mac.update(body);
  return `${SCHEME}${mac.digest('hex')}`;
}

export interface SignedRequest {
  body: Buffer;
  /** Header lookup, case-insensitive. */
  header: (name: string) => string | undefined;
}

/** Throws WEBHOOK_UNAUTHORIZED (401) unless the request is signed with `secret` within `toleranceS`. */
export function verifyWebhook(
  request: SignedRequest,
  secret: string,
  toleranceS: number,
  nowS = Math.floor(Date.now() / 1000),
): void {
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
  const expected = Buffer.from(signWebhook(secret, Number(stamp), request.body));
  const received = Buffer.from(signature.trim());
  if (expected.length !== received.length || !timingSafeEqual(expected, received)) {
    throw new EdgeError(
      'WEBHOOK_UNAUTHORIZED',
      'Expected X-MMLQ-Signature to be v1=<HMAC-SHA256 of "<timestamp>.<body>" with the shared secret> but it does not match',
    );
  }
}
