/**
 * Where results live: a JSON document per source object under the results prefix of the object's own
 * bucket (`results/<key>.json`), and S3 object tags on the source for the hero-image pickers.
 *
 * Idempotency: a result records the key it was written for, `<bucket>/<key>#<versionId or ETag>` plus
 * `<model>@<version>`. A re-delivered event whose key matches the stored one neither rescores nor
 * rewrites; a new object version or a new model version does.
 *
 *
 * The HTTP API keeps its own results apart (`api-results/<id>.json`, ApiResultStore): each answer gets
 * a fresh random id (128 bits), so ids cannot be guessed, and no API call can write under the upload
 * pipeline's prefix (an `{ s3 }` input scored through the API leaves the object's tags and
 * `results/<key>.json` alone).
 */
import { randomBytes } from 'node:crypto';
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
  source: { bucket: string; key: string; versionId?: string; etag: string };
  model: ModelId;
  idempotencyKey: string;
  scoredAt: string;
} & ({ ok: true; result: ScoreResult } | { ok: false; error: ErrorPayload });

/** What the API scored: an object it may read, a URL, or bytes posted to it (staged in S3). */
export type ApiSource =
  | { s3: { bucket: string; key: string; etag?: string } }
  | { url: string; sha256?: string }
  | { upload: { sha256: string } };

/** A result of `POST /v1/scores`, served by `GET /v1/scores/{id}`. */
export type ApiResult = {
  /** 22 characters of base64url: 128 random bits. */
  id: string;
  source: ApiSource;
  model: ModelId;
  scoredAt: string;
} & ({ ok: true; result: ScoreResult } | { ok: false; error: ErrorPayload });

const API_ID = /^[A-Za-z0-9_-]{22}$/;

/** A fresh, unguessable result id. */
export const newApiResultId = (): string => randomBytes(16).toString('base64url');

/** The score as a tag value: two decimals, no trailing zeros ("6.5", "7.25"). */
export const scoreTag = (score: number): string => String(Number(score.toFixed(2)));

export const modelId = (m: ModelId): string => `${m.name}@${m.version}`;

export function idempotencyKey(source: SourceVersion, model: ModelId): string {
  return `${source.bucket}/${source.key}#${source.versionId ?? source.etag}@${modelId(model)}`;
}

export class ResultStore {
  constructor(
    private readonly objects: ObjectStore,
    readonly resultsPrefix: string,
  ) {}

  resultRef(bucket: string, key: string): ObjectRef {
    return { bucket, key: `${this.resultsPrefix}${key}.json` };
  }

  /**
   * What is stored for the object now: `duplicate` when a result for exactly this object version and
   * model is there; otherwise the ETag of the result document in place (undefined: none), which put()
   * writes against.
   */
  async check(
    source: SourceVersion,
    model: ModelId,
  ): Promise<{ duplicate: boolean; etag: string | undefined }> {
    const head = await this.objects.head(this.resultRef(source.bucket, source.key));
    return {
      duplicate: head?.metadata[IDEMPOTENCY_META] === encodeURIComponent(idempotencyKey(source, model)),
      etag: head?.etag,
    };
  }

  build(
    source: SourceVersion,
    model: ModelId,
    outcome: { ok: true; result: ScoreResult } | { ok: false; error: ErrorPayload },
    now = new Date(),
  ): StoredResult {
    return {
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

  /**
   * Writes the result if the stored document is still the one check() saw (`expected.etag`); false when
   * a concurrent delivery wrote first (at-least-once events can arrive together).
   */
  async put(document: StoredResult, expected: { etag: string | undefined }): Promise<boolean> {
    return this.objects.putJsonIf(
      this.resultRef(document.source.bucket, document.source.key),
      document,
      // S3 metadata is ASCII-only: the key is stored URI-encoded.
      { [IDEMPOTENCY_META]: encodeURIComponent(document.idempotencyKey) },
      expected,
    );
  }

  /**
   * Tags the source object with the score (or the error code), the model and `extra` (the library
   * tier); this service's other tags go.
   */
  async tag(document: StoredResult, extra: Record<string, string> = {}): Promise<void> {
    const tags: Record<string, string> = { ...extra, [TAGS.model]: modelId(document.model) };
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

/** The API's own results, one document per id in the API's bucket. */
export class ApiResultStore {
  constructor(
    private readonly objects: ObjectStore,
    private readonly bucket: string,
    private readonly prefix: string,
  ) {}

  async put(document: ApiResult): Promise<void> {
    await this.objects.putJson({ bucket: this.bucket, key: `${this.prefix}${document.id}.json` }, document);
  }

  /** The result with this id, or undefined (never stored, expired, or not an id of ours). */
  async get(id: string): Promise<ApiResult | undefined> {
    if (!API_ID.test(id)) return undefined;
    return this.objects.getJson<ApiResult>({ bucket: this.bucket, key: `${this.prefix}${id}.json` });
  }
}
