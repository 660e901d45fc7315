/**
 * The body the WordPress plugin sends (docs/WORDPRESS.md), validated with messages that say what was
 * expected, and the text around an image the way the model reads it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { cropsField, LIMITS } from '../clients/scorer-protocol.ts';
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
  // Aspects (the plugin's crop_aspects setting) whose best crop is stored with the score (mmlq_crops).
  crops: cropsField.optional(),
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

/** Markup and entities out; what a reader sees stays. */
function plain(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#0?39;/g, "'")
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The texts around the image, in the order the model gets them: caption, alt text, title,
 * description, then comments. Empty ones are dropped (all empty = image-only).
 */
export function attachmentTexts(a: AttachmentPayload): string[] {
  return [a.caption, a.alt, a.title, a.description, ...a.comments].map(plain).filter((t) => t.length > 0);
}

/**
 * What a stored score is for: this site's attachment, these image bytes, this text and this model, and
 * the crop aspects asked for (`+crops:16:9,1:1`, only when any: keys stored before crops stay valid for
 * deliveries without them). A delivery whose key equals the stored one is a duplicate (no rescoring,
 * no write); one that asks for other aspects is scored again.
 */
export function attachmentKey(site: string, a: AttachmentPayload, model: { name: string; version: string }) {
  const textHash = createHash('sha256').update(attachmentTexts(a).join('\n')).digest('hex').slice(0, 16);
  const crops = a.crops?.length ? `+crops:${a.crops.join(',')}` : '';
  return `${new URL(site).origin}#${a.id}#${a.sha256}#${textHash}@${model.name}@${model.version}${crops}`;
}
