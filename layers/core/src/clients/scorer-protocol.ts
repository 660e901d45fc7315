/**
 * What edge functions send to the scorer and what it answers, over Lambda Invoke or HTTP alike.
 * References only (S3 object or URL), never image bytes. Imports no runtime code: edge functions use it.
 */
import { z } from 'zod';
import type { ErrorPayload } from '../common/errors.ts';
import { InvalidArgumentError } from '../common/errors.ts';
import type { ScoreResult } from '../model/scorer.ts';
import type { ObjectRef } from './s3.ts';

export type ImageRef = { s3: ObjectRef } | { url: string };

export interface ScoreItem {
  /** Caller's identifier, echoed back. */
  id: string;
  image: ImageRef;
  /** Caption, alt text, title, comments: used by multi-modal models. */
  text?: string | string[] | undefined;
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

export type ItemOutcome =
  | { id: string; ok: true; result: ScoreResult; source?: ScoredSource }
  | { id: string; ok: false; error: ErrorPayload };

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

/** The most items one job may carry (the API's batch limit is at most this). */
export const MAX_JOB_ITEMS = 64;

const text = z.union([z.string().max(20_000), z.array(z.string().max(20_000)).max(50)]).optional();
const s3Ref = z
  .object({
    bucket: z.string().min(3).max(63),
    key: z.string().min(1).max(1024),
    versionId: z.string().min(1).max(1024).optional(),
  })
  .strict();
const imageRef = z.union([
  z.object({ s3: s3Ref }).strict(),
  z.object({ url: z.string().min(1).max(4096) }).strict(),
]);
const item = z.object({ id: z.string().min(1).max(1024), image: imageRef, text }).strict();
const job = z.object({ items: z.array(item).max(MAX_JOB_ITEMS) }).strict();

/** Validates an untrusted job; the message names the first offending field. */
export function parseJob(input: unknown): ScoreJob {
  const parsed = job.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : 'the job';
    throw new InvalidArgumentError(
      `Expected a scoring job { items: [{ id, image: { s3: { bucket, key } } | { url }, text? }] } (at most ${MAX_JOB_ITEMS} items; none asks only which model is loaded) but ${where} is invalid: ${issue.message}`,
    );
  }
  return parsed.data as ScoreJob;
}
