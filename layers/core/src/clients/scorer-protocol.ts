/**
 * What edge functions send to the scorer and what it answers, over Lambda Invoke or HTTP alike.
 * References only (S3 object or URL), never image bytes. Imports no runtime code: edge functions use it.
 */
import { z } from 'zod';
import { isAspect, MAX_ASPECTS } from '../common/aspects.ts';
import { parseWith } from '../common/validate.ts';
import type { Outcome } from '../model/scorer.ts';
import type { ObjectRef } from './s3.ts';

export type ImageRef = { s3: ObjectRef } | { url: string };

export interface ScoreItem {
  /** Caller's identifier, echoed back. */
  id: string;
  image: ImageRef;
  /** Caption, alt text, title, comments: used by multi-modal models. */
  text?: string | string[] | undefined;
  /** Aspects (`16:9`, `1:1`, any `W:H`) to find the best crop for; the result carries `crops`. */
  crops?: string[] | undefined;
}

/** A job with no items asks only which model is loaded (health checks, idempotency keys). */
export interface ScoreJob {
  items: ScoreItem[];
}

export interface ScoredSource {
  /** ETag of the S3 object that was read (S3 inputs). */
  etag?: string;
  /** sha256 (hex) of the bytes that were fetched (URL inputs). */
  sha256?: string;
}

export type ItemOutcome = Outcome<{ source?: ScoredSource }>;

export interface ModelInfo {
  name: string;
  version: string;
  provider: string;
  multimodal: boolean;
}

export interface ScoreJobResult {
  model: ModelInfo;
  outcomes: ItemOutcome[];
}

/**
 * Limits of one job, enforced by the scorer and, with the same schema, by every edge function before it
 * calls the scorer, so that a caller's mistake is a 400 at the edge and never a failed invocation.
 */
export const LIMITS = Object.freeze({
  /** Items per job (the API's batch limit is at most this). */
  items: 64,
  /** Texts per item (caption, alt text, title, description, comments). */
  texts: 50,
  /** Characters per text. */
  textChars: 20_000,
  /** Characters of an item id, an S3 key or a version id. */
  id: 1024,
  /** Characters of a URL. */
  url: 4096,
  /** Crop aspects per item (each costs about one more full-size inference). */
  cropAspects: MAX_ASPECTS,
  /** Bytes of one job as JSON: Lambda's synchronous invoke payload (6 MB), less room for the envelope. */
  jobBytes: 6_000_000,
});

/** The most items one job may carry (the API's batch limit is at most this). */
export const MAX_JOB_ITEMS = LIMITS.items;

export const textField = z.union([
  z.string().max(LIMITS.textChars),
  z.array(z.string().max(LIMITS.textChars)).max(LIMITS.texts),
]);
const idField = z.string().min(1).max(LIMITS.id);
const urlField = z.string().min(1).max(LIMITS.url);
const s3Ref = z
  .object({
    bucket: z.string().min(3).max(63),
    key: idField,
    versionId: idField.optional(),
  })
  .strict();
const imageRef = z.union([z.object({ s3: s3Ref }).strict(), z.object({ url: urlField }).strict()]);
export const cropsField = z
  .array(
    z
      .string()
      .max(16)
      .refine(isAspect, { message: 'an aspect W:H of positive integers (e.g. 16:9, 1:1, 4:5)' }),
  )
  .max(LIMITS.cropAspects);
const item = z
  .object({ id: idField, image: imageRef, text: textField.optional(), crops: cropsField.optional() })
  .strict();
const job = z.object({ items: z.array(item).max(LIMITS.items) }).strict();

/** Validates an untrusted job; the message names the first offending field. */
export function parseJob(input: unknown): ScoreJob {
  return parseWith(
    job,
    input,
    `a scoring job { items: [{ id, image: { s3: { bucket, key } } | { url }, text?, crops? }] } (at most ${LIMITS.items} items, ${LIMITS.cropAspects} crop aspects each; none asks only which model is loaded)`,
    { whole: 'the job' },
  ) as ScoreJob;
}

/**
 * One input of the public API (`POST /v1/scores`, alone or in `items`): exactly one of `url` or
 * `s3`, with optional text and id; the same limits as the scorer's job.
 */
export const apiInput = z
  .object({
    url: urlField.optional(),
    s3: s3Ref.omit({ versionId: true }).optional(),
    text: textField.optional(),
    id: idField.optional(),
    crops: cropsField.optional(),
  })
  .strict()
  .refine((v) => (v.url === undefined) !== (v.s3 === undefined), {
    message: 'exactly one of "url" (a string) or "s3" ({ bucket, key }) is required',
  });

export type ApiInput = z.infer<typeof apiInput>;

export const API_INPUT_EXPECTED = `an input { url } | { s3: { bucket, key } } with optional text (a string, or at most ${LIMITS.texts} strings, of at most ${LIMITS.textChars} characters each), id (at most ${LIMITS.id} characters) and crops (at most ${LIMITS.cropAspects} aspects W:H, e.g. ["16:9", "1:1"])`;
