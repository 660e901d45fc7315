/**
 * The body the WordPress plugin sends (docs/WORDPRESS.md), validated with messages that say what was
 * expected, and the text around an image the way the model reads it.
 */
import { z } from 'zod';
import { LIMITS } from '../clients/scorer-protocol.ts';
import { InvalidArgumentError } from '../common/errors.ts';
import { parseJsonText } from '../common/validate.ts';

const text = (max: number) => z.string().max(max).default('');

const attachment = z.object({
  id: z.number().int().positive(),
  url: z.string().url().max(4096),
  mime: z.string().regex(/^image\//, 'an image/* type'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 hex digits'),
  width: z.number().int().nonnegative().optional(),
  height: z.number().int().nonnegative().optional(),
  title: text(2_000),
  caption: text(10_000),
  alt: text(2_000),
  description: text(20_000),
  // Caption, alt, title and description come first: the comments fill the scorer's text limit.
  comments: z
    .array(z.string().max(5_000))
    .max(LIMITS.texts - 4)
    .default([]),
});

const common = {
  site: z.string().url(),
  restUrl: z.string().url().optional(),
  sentAt: z.string().optional(),
};

export const webhookPayload = z.discriminatedUnion('event', [
  z.object({ event: z.literal('ping'), ...common }),
  z.object({ event: z.enum(['attachment.upload', 'attachment.rescore']), ...common, attachment }),
]);

export type WebhookPayload = z.infer<typeof webhookPayload>;
export type AttachmentPayload = Extract<WebhookPayload, { attachment: unknown }>['attachment'];

export function parseWebhookPayload(body: Buffer): WebhookPayload {
  const json = parseJsonText(
    body.toString('utf8'),
    'Expected a JSON body from the MMLQ Edge WordPress plugin',
  );
  const parsed = webhookPayload.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new InvalidArgumentError(`Invalid webhook body: ${problems.join('; ')}`);
  }
  return parsed.data;
}

// The texts as the model reads them and the idempotency key are shared with the CLI's backfill.
export { attachmentKey, attachmentTexts } from '../clients/wordpress.ts';
