/**
 * Where results live: a JSON document per source object under the results prefix of the object's own
 * bucket (`results/<key>.json`), and S3 object tags on the source for the hero-image pickers.
 *
 * Idempotency: a result records the key it was written for, `<bucket>/<key>#<versionId or ETag>` plus
 * `<model>@<version>`. A re-delivered event whose key matches the stored one neither rescores nor
 * rewrites; a new object version or a new model version does.
 *
 * Images scored by URL through the API have no object to tag: their latest result is kept in the
 * API's bucket at `results/_by-url/<sha256 of the URL>.json`, with the id `url.<sha256 of the URL>`
 * (a "." never occurs in the base64url ids of S3 results).
 */
import { createHash } from 'node:crypto';
import type { ObjectRef, ObjectStore } from '../clients/s3.ts';
import type { ErrorPayload } from '../common/errors.ts';
import type { ScoreResult } from '../model/scorer.ts';

export const TAG_PREFIX = 'aesthetic-';
export const TAGS = Object.freeze({
  score: 'aesthetic-score',
  tier: 'aesthetic-tier',
  model: 'aesthetic-model',
  error: 'aesthetic-error',
});

/** Metadata header (x-amz-meta-idempotency-key) carrying the key on the result object. */
const IDEMPOTENCY_META = 'idempotency-key';

export interface SourceVersion extends ObjectRef {
  etag: string;
}

export interface ModelId {
  name: string;
  version: string;
}

export type StoredResult = {
  /** Opaque id for GET /v1/scores/{id}: base64url of the source key. */
  id: string;
  source: { bucket: string; key: string; versionId?: string; etag: string };
  model: ModelId;
  idempotencyKey: string;
  scoredAt: string;
} & ({ ok: true; result: ScoreResult } | { ok: false; error: ErrorPayload });

/** The latest result for an image the API fetched by URL. */
export type StoredUrlResult = {
  /** `url.<sha256 hex of the URL>`. */
  id: string;
  source: { url: string; sha256?: string };
  model: ModelId;
  scoredAt: string;
} & ({ ok: true; result: ScoreResult } | { ok: false; error: ErrorPayload });

const URL_RESULTS = '_by-url/';
const URL_ID = /^url\.([0-9a-f]{64})$/;

export const urlResultId = (url: string): string =>
  `url.${createHash('sha256').update(url, 'utf8').digest('hex')}`;

/** The score as a tag value: two decimals, no trailing zeros ("6.5", "7.25"). */
export const scoreTag = (score: number): string => String(Number(score.toFixed(2)));

export const modelId = (m: ModelId): string => `${m.name}@${m.version}`;

export function idempotencyKey(source: SourceVersion, model: ModelId): string {
  return `${source.bucket}/${source.key}#${source.versionId ?? source.etag}@${modelId(model)}`;
}

export const resultId = (key: string): string => Buffer.from(key, 'utf8').toString('base64url');

/** The source key of a result id, or undefined when the id is not one of ours. */
export function keyOfResultId(id: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,1400}$/.test(id)) return undefined;
  const key = Buffer.from(id, 'base64url').toString('utf8');
  return key.length > 0 && resultId(key) === id ? key : undefined;
}

export class ResultStore {
  constructor(
    private readonly objects: ObjectStore,
    readonly resultsPrefix: string,
  ) {}

  resultRef(bucket: string, key: string): ObjectRef {
    return { bucket, key: `${this.resultsPrefix}${key}.json` };
  }

  /** True when a result for exactly this object version and model is already stored. */
  async has(source: SourceVersion, model: ModelId): Promise<boolean> {
    const head = await this.objects.head(this.resultRef(source.bucket, source.key));
    return head?.metadata[IDEMPOTENCY_META] === encodeURIComponent(idempotencyKey(source, model));
  }

  async get(bucket: string, key: string): Promise<StoredResult | undefined> {
    return this.objects.getJson<StoredResult>(this.resultRef(bucket, key));
  }

  build(
    source: SourceVersion,
    model: ModelId,
    outcome: { ok: true; result: ScoreResult } | { ok: false; error: ErrorPayload },
    now = new Date(),
  ): StoredResult {
    return {
      id: resultId(source.key),
      source: {
        bucket: source.bucket,
        key: source.key,
        ...(source.versionId ? { versionId: source.versionId } : {}),
        etag: source.etag,
      },
      model: { name: model.name, version: model.version },
      idempotencyKey: idempotencyKey(source, model),
      scoredAt: now.toISOString(),
      ...outcome,
    };
  }

  /** Stores the latest result for a URL in `bucket` (the API's own bucket). */
  async putUrl(bucket: string, document: StoredUrlResult): Promise<void> {
    const hash = URL_ID.exec(document.id)?.[1];
    if (hash === undefined) throw new Error(`Not a URL result id: ${document.id}`);
    await this.objects.putJson({ bucket, key: `${this.resultsPrefix}${URL_RESULTS}${hash}.json` }, document);
  }

  /** The stored result for an id of either kind, or undefined (unknown id or nothing stored). */
  async find(bucket: string, id: string): Promise<StoredResult | StoredUrlResult | undefined> {
    const hash = URL_ID.exec(id)?.[1];
    if (hash !== undefined) {
      return this.objects.getJson<StoredUrlResult>({
        bucket,
        key: `${this.resultsPrefix}${URL_RESULTS}${hash}.json`,
      });
    }
    const key = keyOfResultId(id);
    return key === undefined ? undefined : this.get(bucket, key);
  }

  async put(document: StoredResult): Promise<void> {
    await this.objects.putJson(this.resultRef(document.source.bucket, document.source.key), document, {
      // S3 metadata is ASCII-only: the key is stored URI-encoded.
      [IDEMPOTENCY_META]: encodeURIComponent(document.idempotencyKey),
    });
  }

  /** Tags the source object with the score (or the error code) and the model. */
  async tag(document: StoredResult): Promise<void> {
    const tags: Record<string, string> = { [TAGS.model]: modelId(document.model) };
    if (document.ok) {
      tags[TAGS.score] = scoreTag(document.result.score);
      tags[TAGS.tier] = document.result.tier;
    } else {
      tags[TAGS.error] = document.error.code;
    }
    await this.objects.mergeTags(
      { bucket: document.source.bucket, key: document.source.key, versionId: document.source.versionId },
      tags,
      TAG_PREFIX,
    );
  }
}
