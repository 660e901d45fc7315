/**
 * Remote backfill of a WordPress media library (`mmlq-edge wordpress backfill`): list the site's images
 * over its REST API (oldest id first), download each through the SSRF-safe fetch, score it here, and
 * write the result the way wp-webhook does (the mmlq_* meta with `mmlq_key`, and one mmlq_tier term).
 *
 * - Idempotent: an image whose stored `mmlq_key` equals the key it would get (same site, attachment,
 *   file bytes, text and model version) is skipped without scoring or writing; with mode `unscored`
 *   (the default) any image that has a key at all is skipped before it is downloaded.
 * - Resumable: after each finished image the state (the last id, its position in the list, the ids
 *   that failed) is saved; the next run continues after it and first retries those failures. A run
 *   that reaches the end of the list removes its state, so the run after it starts over.
 * - Stops cleanly: when `signal` aborts, the images already downloaded are scored and written, the
 *   state is saved, and the run returns `interrupted`.
 * - Retries a REST call or a download on 429, 5xx, timeouts and connection failures, waiting what
 *   Retry-After asks (up to MAX_RETRY_AFTER_MS) or an exponential backoff with jitter.
 */
import { createHash } from 'node:crypto';
import {
  type AttachmentTexts,
  attachmentKey,
  attachmentTexts,
  type MediaItem,
  mediaTexts,
  type ScoreMeta,
  type WordPressSite,
  wordPressFailure,
} from '../clients/wordpress.ts';
import { type ErrorPayload, InvalidArgumentError, isMmlqError, isPermanent } from '../common/errors.ts';
import type { ScoreOutcome, ScoreRequest } from '../model/scorer.ts';
import { modelId } from '../results/store.ts';

export type BackfillMode = 'unscored' | 'all';

/** What a run remembers between runs (the state file). */
export interface BackfillState {
  version: 1;
  site: string;
  user: string;
  mode: BackfillMode;
  model: string;
  /** The last image of the list that was finished (scored, rejected, skipped or failed). */
  lastId: number;
  /** How many images of the list come before it and it, when it was saved (a hint, checked on resume). */
  position: number;
  /** Images that failed; retried first by the next run. */
  failed: { id: number; code: string; message: string }[];
  updatedAt: string;
}

export interface StateStore {
  load(): Promise<BackfillState | undefined>;
  save(state: BackfillState): Promise<void>;
  clear(): Promise<void>;
}

export type ItemStatus = 'scored' | 'rejected' | 'skipped' | 'failed' | 'gone';

export interface ProgressEvent {
  id: number;
  status: ItemStatus;
  /** Images finished in the list so far (including the runs before a resume), and the list's length. */
  done: number;
  total: number;
  detail?: string;
}

export interface BackfillSummary {
  scored: number;
  /** Images whose error was written to WordPress (mmlq_error), as wp-webhook writes a bad image. */
  rejected: number;
  skipped: number;
  gone: number;
  failed: { id: number; code: string; message: string }[];
  total: number;
  /** Stopped by the signal (Ctrl-C) or by `limit`; the state is kept for the next run. */
  interrupted: boolean;
  limited: boolean;
  /** Whether this run continued an earlier one. */
  resumed: boolean;
}

export interface RetryOptions {
  retries: number;
  sleep: (ms: number) => Promise<void>;
  random?: () => number;
  onRetry?: (what: string, attempt: number, waitMs: number, error: unknown) => void;
}

/** The longest Retry-After obeyed; a site asking for more fails the call (the run goes on). */
export const MAX_RETRY_AFTER_MS = 300_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30_000;

/** HTTP status in a message such as "the server answered 503" (safe-fetch's failures). */
function answeredStatus(error: unknown): number | undefined {
  const m = /answered (\d{3})\b/.exec(error instanceof Error ? error.message : '');
  return m ? Number(m[1]) : undefined;
}

/** Whether another attempt may succeed: 408, 425, 429, 5xx, timeouts and connection failures. */
export function isRetryable(error: unknown): boolean {
  const status = wordPressFailure(error).status ?? answeredStatus(error);
  if (status !== undefined) return status === 408 || status === 425 || status === 429 || status >= 500;
  if (isMmlqError(error)) return error.code === 'WORDPRESS_FAILED' || error.code === 'URL_FETCH_FAILED';
  return false;
}

/** Backoff before attempt `attempt + 1`: exponential from 0.5 s, capped at 30 s, jittered to 50-100 %. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const full = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(full * (0.5 + random() / 2));
}

/** Runs `run`, again after a wait while it fails with a retryable error, at most `retries` more times. */
export async function withRetries<T>(what: string, run: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= options.retries || !isRetryable(error)) throw error;
      const asked = wordPressFailure(error).retryAfterMs;
      if (asked !== undefined && asked > MAX_RETRY_AFTER_MS) throw error;
      const wait = asked ?? backoffMs(attempt, options.random);
      options.onRetry?.(what, attempt + 1, wait, error);
      await options.sleep(wait);
    }
  }
}

/**
 * Spaces calls at most `perSecond` a second (the first goes at once). `now` and `sleep` are injectable
 * for tests.
 */
export function rateLimiter(
  perSecond: number,
  sleep: (ms: number) => Promise<void>,
  now: () => number = () => performance.now(),
): () => Promise<void> {
  const interval = 1000 / perSecond;
  let next = Number.NEGATIVE_INFINITY;
  return async () => {
    const t = now();
    const at = Math.max(t, next);
    next = at + interval;
    if (at > t) await sleep(at - t);
  };
}

export interface BackfillDeps {
  site: Pick<WordPressSite, 'listImages' | 'image' | 'writeScore'>;
  /** The site's home URL (its REST index): the origin in `mmlq_key`, as the plugin's home_url('/'). */
  home: string;
  user: string;
  /** Downloads an image (the SSRF-safe fetch, rate-limited): a typed error when it cannot. */
  download: (url: string) => Promise<Buffer>;
  /** Scores prepared images with the local model, outcomes in request order. */
  score: (requests: ScoreRequest[]) => Promise<ScoreOutcome[]>;
  model: { name: string; version: string; multimodal: boolean };
  state: StateStore;
  retry: RetryOptions;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  now?: () => Date;
}

export interface BackfillOptions {
  mode: BackfillMode;
  /** Images scored per model run. */
  batchSize: number;
  /** Images per REST list page (2-100: each page starts with the last image of the one before). */
  pageSize: number;
  /** Stop after this many images were written (scored or rejected); the state is kept. */
  limit?: number | undefined;
  /** Forget an earlier run's state and start from the first image. */
  restart?: boolean;
}

/** One image on its way: what it needs to be written, or why it stops here. */
type Slot =
  | { item: MediaItem; kind: 'skip' }
  | { item: MediaItem; kind: 'fail'; error: ErrorPayload }
  | { item: MediaItem; kind: 'score'; key: string; request: ScoreRequest };

function payloadOf(error: unknown): ErrorPayload {
  if (isMmlqError(error)) return error.toJSON();
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

/** The meta wp-webhook writes (wp-webhook/webhook.ts), for a scored image or a rejected one. */
export function metaFor(
  outcome: ScoreOutcome,
  common: Pick<ScoreMeta, 'mmlq_model' | 'mmlq_scored_at' | 'mmlq_key'>,
): { meta: ScoreMeta; tier: string | undefined } {
  if (!outcome.ok) {
    return {
      meta: { ...common, mmlq_error: `${outcome.error.code}: ${outcome.error.message}` },
      tier: undefined,
    };
  }
  const r = outcome.result;
  return {
    meta: {
      ...common,
      mmlq_score: r.score,
      mmlq_std: r.std,
      mmlq_percentile: r.percentile,
      mmlq_tier: r.tier,
      mmlq_attributes: r.attributes ? JSON.stringify(r.attributes) : '',
      mmlq_error: '',
    },
    tier: r.tier,
  };
}

export async function runBackfill(options: BackfillOptions, deps: BackfillDeps): Promise<BackfillSummary> {
  const { site, state: store, retry } = deps;
  if (!Number.isInteger(options.pageSize) || options.pageSize < 2 || options.pageSize > 100) {
    throw new InvalidArgumentError(`Expected a page size from 2 to 100 but received ${options.pageSize}`);
  }
  const now = deps.now ?? (() => new Date());
  const model = modelId(deps.model);
  const origin = new URL(deps.home).origin;
  const earlier = options.restart ? undefined : await store.load();
  if (options.restart) await store.clear();
  const summary: BackfillSummary = {
    scored: 0,
    rejected: 0,
    skipped: 0,
    gone: 0,
    failed: [],
    total: 0,
    interrupted: false,
    limited: false,
    resumed: earlier !== undefined,
  };
  let lastId = earlier?.lastId ?? 0;
  let position = earlier?.position ?? 0;
  const failed = new Map<number, { id: number; code: string; message: string }>();
  const retryIds = (earlier?.failed ?? []).map((f) => f.id);
  const written = () => summary.scored + summary.rejected;
  const stopping = () => {
    if (deps.signal?.aborted) summary.interrupted = true;
    if (options.limit !== undefined && written() >= options.limit) summary.limited = true;
    return summary.interrupted || summary.limited;
  };

  const save = () =>
    store.save({
      version: 1,
      site: origin,
      user: deps.user,
      mode: options.mode,
      model,
      lastId,
      position,
      failed: [...failed.values()],
      updatedAt: now().toISOString(),
    });

  const prepare = async (item: MediaItem): Promise<Slot> => {
    const stored = typeof item.meta?.mmlq_key === 'string' ? item.meta.mmlq_key : '';
    if (options.mode === 'unscored' && stored !== '') return { item, kind: 'skip' };
    if (!item.source_url) {
      return {
        item,
        kind: 'fail',
        error: { code: 'IMAGE_NOT_FOUND', message: 'The attachment has no source_url' },
      };
    }
    let bytes: Buffer;
    try {
      bytes = await withRetries(`downloading image ${item.id}`, () => deps.download(item.source_url!), retry);
    } catch (error) {
      return { item, kind: 'fail', error: payloadOf(error) };
    }
    const texts = mediaTexts(item);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const key = attachmentKey(origin, { ...texts, id: item.id, sha256 }, deps.model);
    if (stored === key) return { item, kind: 'skip' };
    const text = textFor(texts, deps.model.multimodal);
    return { item, kind: 'score', key, request: { id: String(item.id), image: { bytes }, text } };
  };

  const finish = (item: MediaItem, status: ItemStatus, listed: boolean, detail?: string) => {
    if (listed) {
      lastId = item.id;
      position++;
    }
    deps.onProgress?.({
      id: item.id,
      status,
      done: position,
      total: summary.total,
      ...(detail ? { detail } : {}),
    });
  };

  const fail = (item: MediaItem, error: ErrorPayload, listed: boolean) => {
    const record = { id: item.id, code: error.code, message: error.message };
    failed.set(item.id, record);
    summary.failed.push(record);
    finish(item, 'failed', listed, `${error.code}: ${error.message}`);
  };

  /** Prepares, scores and writes a run of images in order, saving the state after each one. */
  const process = async (items: readonly MediaItem[], listed: boolean): Promise<void> => {
    for (let i = 0; i < items.length; ) {
      const slots: Slot[] = [];
      let toScore = 0;
      while (i < items.length && toScore < options.batchSize) {
        if (stopping()) break;
        if (options.limit !== undefined && written() + toScore >= options.limit) break;
        const slot = await prepare(items[i]!);
        i++;
        slots.push(slot);
        if (slot.kind === 'score') toScore++;
      }
      if (slots.length === 0) return;
      const scoring = slots.filter((s): s is Extract<Slot, { kind: 'score' }> => s.kind === 'score');
      const outcomes = new Map<string, ScoreOutcome>();
      if (scoring.length) {
        try {
          for (const o of await deps.score(scoring.map((s) => s.request))) outcomes.set(o.id, o);
        } catch (error) {
          const payload = payloadOf(error);
          for (const s of scoring)
            outcomes.set(s.request.id, { id: s.request.id, ok: false, error: payload });
        }
      }
      for (const slot of slots) {
        const { item } = slot;
        failed.delete(item.id);
        if (slot.kind === 'skip') {
          summary.skipped++;
          finish(item, 'skipped', listed);
        } else if (slot.kind === 'fail') {
          fail(item, slot.error, listed);
        } else {
          const outcome = outcomes.get(slot.request.id) ?? {
            id: slot.request.id,
            ok: false as const,
            error: { code: 'INTERNAL' as const, message: 'The scorer answered no outcome' },
          };
          if (!outcome.ok && !isPermanent(outcome.error)) {
            fail(item, outcome.error, listed);
          } else {
            const { meta, tier } = metaFor(outcome, {
              mmlq_model: model,
              mmlq_scored_at: now().toISOString(),
              mmlq_key: slot.key,
            });
            try {
              await withRetries(
                `writing the score of ${item.id}`,
                () => site.writeScore(item.id, meta, tier),
                retry,
              );
              if (outcome.ok) {
                summary.scored++;
                finish(item, 'scored', listed, `${outcome.result.score.toFixed(2)} ${outcome.result.tier}`);
              } else {
                summary.rejected++;
                finish(item, 'rejected', listed, meta.mmlq_error);
              }
            } catch (error) {
              fail(item, payloadOf(error), listed);
            }
          }
        }
        await save();
      }
    }
  };

  // The failures of the run before, first (they lie before lastId in the list).
  for (const id of retryIds) {
    if (stopping()) break;
    let item: MediaItem | undefined;
    try {
      item = await withRetries(`reading attachment ${id}`, () => site.image(id), retry);
    } catch (error) {
      fail({ id }, payloadOf(error), false);
      await save();
      continue;
    }
    if (!item) {
      failed.delete(id);
      summary.gone++;
      finish({ id }, 'gone', false);
      await save();
      continue;
    }
    await process([item], false);
  }

  // Then the list, from where the last run stopped. A page is read from one before the next position:
  // its first image must be one already finished; if it is newer, images were deleted meanwhile and the
  // positions moved, so step back a page (nothing after lastId is missed, nothing before is redone).
  let offset = position;
  while (!stopping()) {
    const start = Math.max(0, offset - 1);
    const page = await withRetries(
      `listing images from ${start}`,
      () => site.listImages(start, options.pageSize),
      retry,
    );
    summary.total = page.total;
    const first = page.items[0];
    if (start > 0 && (first === undefined || first.id > lastId)) {
      offset = Math.max(0, offset - options.pageSize);
      position = offset;
      continue;
    }
    const fresh = page.items.filter((it) => it.id > lastId);
    position = start + page.items.length - fresh.length;
    await process(fresh, true);
    if (stopping()) break;
    if (page.items.length < options.pageSize) {
      await store.clear();
      return summary;
    }
    offset = start + page.items.length;
  }
  await save();
  return summary;
}

/** The text a multi-modal model gets (image-only models get none), as wp-webhook sends it. */
function textFor(texts: AttachmentTexts, multimodal: boolean): string[] | undefined {
  const list = multimodal ? attachmentTexts(texts) : [];
  return list.length ? list : undefined;
}
