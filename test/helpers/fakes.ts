/**
 * Small fakes that let unit tests call a feature's handler logic directly and reach every branch in
 * milliseconds (the real S3, Lambda and WordPress paths run in test/integration).
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ObjectRef, ObjectStore } from '#core/clients/s3.ts';
import type { ScorerClient } from '#core/clients/scorer-client.ts';
import type { ItemOutcome, ModelInfo, ScoreJob, ScoreJobResult } from '#core/clients/scorer-protocol.ts';
import { ImageError } from '#core/common/errors.ts';
import type { Logger, Metrics } from '#core/common/observability.ts';
import type { ScoreResult } from '#core/model/scorer.ts';

export const MODEL: ModelInfo = { name: 'fake', version: '1.0.0', provider: 'cpu', multimodal: true };

export function result(score: number): ScoreResult {
  return {
    score,
    std: 1.5,
    distribution: Array.from({ length: 10 }, () => 0.1),
    percentile: score * 10,
    tier: score >= 7 ? 'top' : 'average',
    mode: 'image',
    model: { name: MODEL.name, version: MODEL.version },
    image: { format: 'jpeg', width: 64, height: 48, bytes: 1000, phash: '8f3a00ff12c4e601' },
    timings: { readMs: 1, decodeMs: 1, inferenceMs: 1 },
  };
}

/** An in-memory object store with the ObjectStore methods the handlers use. */
export class FakeObjects {
  readonly objects = new Map<
    string,
    { body: Buffer; contentType: string; metadata: Record<string, string> }
  >();
  readonly tags = new Map<string, Record<string, string>>();
  /** Make the next calls of a method fail. */
  failing = new Set<string>();

  private id = (ref: ObjectRef) => `${ref.bucket}/${ref.key}`;
  /** A stand-in ETag that changes with the content (S3's is the MD5). */
  static etagOf(o: { body: Buffer }): string {
    return `etag-${createHash('md5').update(o.body).digest('hex')}`;
  }
  private check(method: string) {
    if (this.failing.has(method)) throw new Error(`fake ${method} failure`);
  }
  async head(ref: ObjectRef) {
    this.check('head');
    const o = this.objects.get(this.id(ref));
    return (
      o && {
        etag: FakeObjects.etagOf(o),
        versionId: undefined,
        size: o.body.length,
        contentType: o.contentType,
        metadata: o.metadata,
      }
    );
  }
  async put(
    ref: ObjectRef,
    body: Buffer | string,
    contentType: string,
    metadata: Record<string, string> = {},
  ) {
    this.check('put');
    this.objects.set(this.id(ref), { body: Buffer.from(body), contentType, metadata });
  }
  async putJson(ref: ObjectRef, document: unknown, metadata: Record<string, string> = {}) {
    await this.put(ref, JSON.stringify(document), 'application/json', metadata);
  }
  /** Counts every conditional write; applies S3's If-None-Match * / If-Match semantics. */
  conditionalWrites = 0;
  async putJsonIf(
    ref: ObjectRef,
    document: unknown,
    metadata: Record<string, string>,
    expected: { etag: string | undefined },
  ) {
    this.check('put');
    this.conditionalWrites++;
    const current = this.objects.get(this.id(ref));
    const etag = current && FakeObjects.etagOf(current);
    if (expected.etag === undefined ? current !== undefined : etag !== expected.etag) return false;
    await this.put(ref, JSON.stringify(document), 'application/json', metadata);
    return true;
  }
  /** Keys read with getJson, in order. */
  readonly jsonReads: string[] = [];
  async getJson<T>(ref: ObjectRef): Promise<T | undefined> {
    this.check('getJson');
    this.jsonReads.push(ref.key);
    const o = this.objects.get(this.id(ref));
    return o && (JSON.parse(o.body.toString('utf8')) as T);
  }
  async getBytes(ref: ObjectRef) {
    this.check('getBytes');
    return this.objects.get(this.id(ref))?.body;
  }
  async getImage(ref: ObjectRef) {
    const o = this.objects.get(this.id(ref));
    if (!o) throw new ImageError('IMAGE_NOT_FOUND', `no ${this.id(ref)}`);
    return { bytes: o.body, etag: 'etag' };
  }
  async mergeTags(ref: ObjectRef, tags: Record<string, string>) {
    this.check('mergeTags');
    this.tags.set(this.id(ref), { ...this.tags.get(this.id(ref)), ...tags });
  }
  async presignPut(ref: ObjectRef, contentType: string, expiresInS: number) {
    return `https://fake-s3.example/${ref.bucket}/${ref.key}?type=${encodeURIComponent(contentType)}&expires=${expiresInS}`;
  }
  /** ObjectStore.list over one bucket: pages of `pageSize` in key order. */
  async *list(bucket: string, prefix: string, pageSize = 2) {
    this.check('list');
    const keys = this.keys(`${bucket}/${prefix}`).map((id) => id.slice(bucket.length + 1));
    for (let i = 0; i < keys.length; i += pageSize) {
      yield keys.slice(i, i + pageSize).map((key) => {
        const o = this.objects.get(`${bucket}/${key}`)!;
        return { key, etag: FakeObjects.etagOf(o), size: o.body.length, lastModified: undefined };
      });
    }
  }
  keys(prefix = ''): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
  asStore(): ObjectStore {
    return this as unknown as ObjectStore;
  }
}

/** A scorer that answers each item with `answer(item)` and records the jobs it got. */
export class FakeScorer implements ScorerClient {
  readonly target = 'fake-scorer';
  readonly jobs: ScoreJob[] = [];
  /** The model it answers with (a test may change it, as a deployment changes the scorer's model). */
  model: ModelInfo = MODEL;
  constructor(
    private readonly answer: (item: ScoreJob['items'][number]) => ItemOutcome | undefined = (item) => ({
      id: item.id,
      ok: true,
      result: result(6.5),
      source: { etag: 'etag' },
    }),
    private readonly fail?: Error,
  ) {}
  async score(job: ScoreJob): Promise<ScoreJobResult> {
    this.jobs.push(job);
    if (this.fail) throw this.fail;
    return {
      model: this.model,
      outcomes: job.items.map((i) => this.answer(i)).filter((o): o is ItemOutcome => o !== undefined),
    };
  }
}

export function quietLogger(): Logger & { errors: unknown[][] } {
  const errors: unknown[][] = [];
  const noop = () => {};
  return {
    errors,
    error: (...args: unknown[]) => errors.push(args),
    warn: noop,
    info: noop,
    debug: noop,
    appendKeys: noop,
    removeKeys: noop,
    resetKeys: noop,
  } as unknown as Logger & { errors: unknown[][] };
}

export function countingMetrics(): Metrics & { counts: Record<string, number> } {
  const counts: Record<string, number> = {};
  return {
    counts,
    addMetric: (name: string, _unit: unknown, value: number) => {
      counts[name] = (counts[name] ?? 0) + value;
    },
  } as unknown as Metrics & { counts: Record<string, number> };
}

/** An HTTP API (payload 2.0) event. */
export function httpEvent(
  method: string,
  path: string,
  options: { body?: string | Buffer; headers?: Record<string, string>; query?: Record<string, string> } = {},
): APIGatewayProxyEventV2 {
  const binary = Buffer.isBuffer(options.body);
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers: options.headers ?? {},
    ...(options.query ? { queryStringParameters: options.query } : {}),
    requestContext: { http: { method, path } },
    ...(options.body === undefined
      ? {}
      : { body: binary ? (options.body as Buffer).toString('base64') : (options.body as string) }),
    isBase64Encoded: binary,
  } as unknown as APIGatewayProxyEventV2;
}
