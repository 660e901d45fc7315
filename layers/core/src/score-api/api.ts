/**
 * score-api: the HTTP API (API Gateway HTTP API, payload 2.0).
 *   POST /v1/scores       image bytes (Content-Type image/* or application/octet-stream, optional
 *                         ?text=, ?crops=16:9,1:1), or JSON { url } | { s3 } |
 *                         { items: [...] } (each with optional text, id and crops); bytes are staged in S3 and
 *                         passed to the scorer by reference.
 *   POST /v1/uploads      { contentType }: a presigned PUT for an image over the body limit, then { s3 }.
 *   GET  /v1/scores/{id}  a stored result.
 *   GET  /v1/health       which model the scorer has loaded.
 * Errors: { error: { code, message } } with the code's status; 5xx bodies stay generic.
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ObjectStore } from '../clients/s3.ts';
import { checkUrl } from '../clients/safe-fetch.ts';
import type { CallOptions, ScorerClient } from '../clients/scorer-client.ts';
import {
  API_INPUT_EXPECTED,
  apiInput,
  type ImageRef,
  type ItemOutcome,
  type ScoreItem,
} from '../clients/scorer-protocol.ts';
import { MAX_ASPECTS, parseAspects } from '../common/aspects.ts';
import { EdgeError, ImageError, InvalidArgumentError, statusOf } from '../common/errors.ts';
import { bodyBytes, errorResponse, header, json, pathSegment, type Response, route } from '../common/http.ts';
import { IMAGE_TYPES, suffixOfMime } from '../common/image-types.ts';
import { type Logger, type Metrics, MetricUnit } from '../common/observability.ts';
import { parseJsonText, parseWith } from '../common/validate.ts';
import { standingWithin } from '../results/library.ts';
import { ApiResultStore, type ApiSource, newApiResultId } from '../results/store.ts';
import type { ApiConfig } from './config.ts';

export interface ApiDeps {
  config: ApiConfig;
  objects: ObjectStore;
  scorer: ScorerClient;
  logger: Logger;
  metrics: Metrics;
}

/** One `{ url } | { s3 }` input with optional text and id, checked against the scorer's own limits. */
function parseInput(raw: unknown, at: string, config: ApiConfig): ScoreItem {
  const input = parseWith(apiInput, raw, API_INPUT_EXPECTED, { at });
  let image: ImageRef;
  if (input.s3) {
    const { bucket, key } = input.s3;
    if (!config.allowedBuckets.includes(bucket)) {
      throw new InvalidArgumentError(
        `Expected ${at}.s3.bucket to be one of ${config.allowedBuckets.join(', ')} but received ${JSON.stringify(bucket)}`,
      );
    }
    if (!config.allowedPrefixes.some((p) => key.startsWith(p))) {
      throw new InvalidArgumentError(
        `Expected ${at}.s3.key to start with ${config.allowedPrefixes.map((p) => JSON.stringify(p)).join(' or ')} but received ${JSON.stringify(key.slice(0, 100))}`,
      );
    }
    image = { s3: { bucket, key } };
  } else {
    image = { url: checkUrl(input.url!, config.url.allowedOrigins).href };
  }
  const id = input.id ?? ('s3' in image ? image.s3.key : image.url);
  return {
    id,
    image,
    ...(input.text !== undefined ? { text: input.text } : {}),
    ...(input.crops?.length ? { crops: input.crops } : {}),
  };
}

interface Parsed {
  items: ScoreItem[];
  batch: boolean;
  /** sha256 of the posted bytes, when the body was an image. */
  staged?: string;
}

async function parseScoreRequest(event: APIGatewayProxyEventV2, deps: ApiDeps): Promise<Parsed> {
  const { config } = deps;
  const contentType = (header(event, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const bytes = bodyBytes(event);
  if (contentType.startsWith('image/') || contentType === 'application/octet-stream') {
    if (event.body && !event.isBase64Encoded) {
      // API Gateway base64-encodes binary bodies; a body that arrived as text has lost bytes on the way
      // (serverless-offline passes only application/octet-stream and multipart/form-data as binary).
      throw new EdgeError(
        'UNSUPPORTED_MEDIA_TYPE',
        `Expected the image bytes as a binary body but they arrived as text; send Content-Type application/octet-stream (received ${contentType})`,
      );
    }
    if (bytes.length === 0)
      throw new ImageError('IMAGE_EMPTY', 'Expected image bytes but received an empty body');
    if (bytes.length > config.maxImageBytes) {
      throw new EdgeError(
        'PAYLOAD_TOO_LARGE',
        `Expected an image of at most ${config.maxImageBytes} bytes but received ${bytes.length} bytes`,
      );
    }
    // Checked before anything is staged: a bad aspect stores nothing.
    const cropsQuery = event.queryStringParameters?.['crops'];
    const crops = cropsQuery
      ? parseAspects(cropsQuery, MAX_ASPECTS, '"crops" aspects').map((a) => a.text)
      : undefined;
    // Each request stages its own object (named by the digest, for tracing, and a random suffix): two
    // requests with the same bytes never write the same key, whatever the store's write semantics.
    // Only the reference travels to the scorer. The staging prefix expires (serverless.yml lifecycle).
    const digest = createHash('sha256').update(bytes).digest('hex');
    const key = `${config.store.stagingPrefix}${digest}-${newApiResultId()}.${suffixOfMime(contentType) ?? 'bin'}`;
    await deps.objects.put({ bucket: config.bucket, key }, bytes, contentType);
    const text = event.queryStringParameters?.['text'];
    return {
      batch: false,
      staged: digest,
      items: [
        {
          id: digest,
          image: { s3: { bucket: config.bucket, key } },
          ...(text ? { text } : {}),
          ...(crops ? { crops } : {}),
        },
      ],
    };
  }
  if (contentType !== 'application/json') {
    throw new EdgeError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Expected Content-Type image/* or application/octet-stream (the image bytes) or application/json ({ url } | { s3 } | { items }) but received ${contentType || 'none'}`,
    );
  }
  const body = parseJsonText(bytes.toString('utf8'), 'Expected a JSON body but it does not parse');
  if (body && typeof body === 'object' && 'items' in body) {
    const items = (body as { items: unknown }).items;
    if (!Array.isArray(items) || items.length === 0 || items.length > config.maxBatchItems) {
      throw new InvalidArgumentError(
        `Expected "items" to be an array of 1 to ${config.maxBatchItems} inputs`,
      );
    }
    return { batch: true, items: items.map((item, i) => parseInput(item, `items[${i}]`, config)) };
  }
  return { batch: false, items: [parseInput(body, 'the body', config)] };
}

/** What a stored result says was scored: bytes posted to the API are named by their digest only. */
function sourceOf(item: ScoreItem, outcome: ItemOutcome, staged: string | undefined): ApiSource {
  const read = outcome.ok ? outcome.source : undefined;
  if ('url' in item.image) return { url: item.image.url, ...(read?.sha256 ? { sha256: read.sha256 } : {}) };
  if (staged !== undefined) return { upload: { sha256: staged } };
  const { bucket, key } = item.image.s3;
  return { s3: { bucket, key, ...(read?.etag ? { etag: read.etag } : {}) } };
}

const apiResults = (deps: ApiDeps) =>
  new ApiResultStore(deps.objects, deps.config.bucket, deps.config.apiResultsPrefix);

/**
 * Each scored item of a batch gets `batch`: its percentile and tier among the batch's scored images
 * (the library rule, as WordPress ranks a site and library-tiers a bucket prefix): "the best of these".
 * Not stored with the result (it depends on the rest of the request).
 */
function withBatchStanding<T extends { ok: boolean; score?: number }>(items: T[]): T[] {
  const scored = items.filter((i) => i.ok);
  const standing = standingWithin(scored.map((i) => i.score!));
  const of = new Map(scored.map((item, k) => [item, standing[k]!]));
  return items.map((item) => (of.has(item) ? { ...item, batch: of.get(item) } : item));
}

function present(item: ScoreItem, outcome: ItemOutcome, stored: string) {
  if (!outcome.ok) return { id: item.id, ok: false, resultId: stored, error: outcome.error };
  return { id: item.id, ok: true, resultId: stored, ...outcome.result };
}

async function postScores(
  event: APIGatewayProxyEventV2,
  deps: ApiDeps,
  call: CallOptions,
): Promise<Response> {
  const started = performance.now();
  const { items, batch, staged } = await parseScoreRequest(event, deps);
  const answer = await deps.scorer.score({ items }, call);
  const results = apiResults(deps);
  const scoredAt = new Date().toISOString();
  const presented = await Promise.all(
    items.map(async (item, i) => {
      const outcome = answer.outcomes[i] ?? {
        id: item.id,
        ok: false as const,
        error: { code: 'INTERNAL' as const, message: 'The scorer answered no outcome for this item' },
      };
      const id = newApiResultId();
      await results.put({
        id,
        source: sourceOf(item, outcome, staged),
        model: { name: answer.model.name, version: answer.model.version },
        scoredAt,
        ...(outcome.ok ? { ok: true, result: outcome.result } : { ok: false, error: outcome.error }),
      });
      deps.metrics.addMetric(
        outcome.ok ? 'ImagesScored' : `Error_${outcome.error.code}`,
        MetricUnit.Count,
        1,
      );
      return present(item, outcome, id);
    }),
  );
  const timings = { totalMs: Number((performance.now() - started).toFixed(2)) };
  if (batch) return json(200, { model: answer.model, items: withBatchStanding(presented), timings });
  const only = presented[0]!;
  if (!only.ok)
    return json(statusOf((only as { error: { code: string } }).error.code), {
      error: (only as { error: unknown }).error,
    });
  return json(200, { model: answer.model, ...only, requestTimings: timings });
}

/** How long a presigned upload URL stays valid. */
export const UPLOAD_URL_TTL_S = 900;

/**
 * `POST /v1/uploads { contentType }`: a presigned PUT for an image too large for the request body.
 * The caller PUTs the bytes to `upload.url` with the given headers, then scores `{ s3 }`. The key is
 * random under the staging prefix (which expires), so uploads never overwrite each other.
 */
async function createUpload(event: APIGatewayProxyEventV2, deps: ApiDeps): Promise<Response> {
  const body = parseJsonText(
    bodyBytes(event).toString('utf8') || '{}',
    'Expected a JSON body { "contentType": "image/jpeg" } but it does not parse',
  );
  const contentType = (body as { contentType?: unknown } | null)?.contentType;
  const suffix = typeof contentType === 'string' ? suffixOfMime(contentType) : undefined;
  if (suffix === undefined) {
    throw new EdgeError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Expected "contentType" to be one of ${IMAGE_TYPES.map((t) => t.mime).join(', ')} but received ${JSON.stringify(contentType ?? null)}`,
    );
  }
  const s3 = {
    bucket: deps.config.bucket,
    key: `${deps.config.store.stagingPrefix}${newApiResultId()}.${suffix}`,
  };
  const url = await deps.objects.presignPut(s3, contentType as string, UPLOAD_URL_TTL_S);
  return json(200, {
    upload: { method: 'PUT', url, headers: { 'content-type': contentType }, expiresInS: UPLOAD_URL_TTL_S },
    s3,
    next: 'POST /v1/scores { "s3": <s3> }',
  });
}

async function getScore(id: string, deps: ApiDeps): Promise<Response> {
  const document = await apiResults(deps).get(id);
  if (!document)
    throw new EdgeError(
      'RESULT_NOT_FOUND',
      `No stored result has the id ${JSON.stringify(id.slice(0, 100))}`,
    );
  return json(200, document);
}

async function health(deps: ApiDeps, call: CallOptions): Promise<Response> {
  const answer = await deps.scorer.score({ items: [] }, call);
  return json(200, { status: 'ok', model: answer.model, scorer: deps.scorer.target });
}

export async function handleApiRequest(
  event: APIGatewayProxyEventV2,
  deps: ApiDeps,
  call: CallOptions = {},
): Promise<Response> {
  const { method, path } = route(event);
  try {
    if (method === 'POST' && path === '/v1/scores') return await postScores(event, deps, call);
    if (method === 'POST' && path === '/v1/uploads') return await createUpload(event, deps);
    if (method === 'GET' && path === '/v1/health') return await health(deps, call);
    const match = /^\/v1\/scores\/([^/]+)$/.exec(path);
    if (method === 'GET' && match) return await getScore(pathSegment('the result id', match[1]!), deps);
    throw new EdgeError(
      'ROUTE_NOT_FOUND',
      `No route ${method} ${path}; routes: POST /v1/scores, POST /v1/uploads, GET /v1/scores/{id}, GET /v1/health`,
    );
  } catch (error) {
    return errorResponse(error, deps.logger);
  }
}
