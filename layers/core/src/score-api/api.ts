/**
 * score-api: the HTTP API (API Gateway HTTP API, payload 2.0).
 *   POST /v1/scores       image bytes (Content-Type image/* or application/octet-stream, optional
 *                         ?text=), or JSON { url } | { s3 } |
 *                         { items: [...] } (each with optional text and id); bytes are staged in S3 and
 *                         passed to the scorer by reference.
 *   GET  /v1/scores/{id}  a stored result.
 *   GET  /v1/health       which model the scorer has loaded.
 * Errors: { error: { code, message } } with the code's status; 5xx bodies stay generic.
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ObjectStore } from '../clients/s3.ts';
import { checkUrl } from '../clients/safe-fetch.ts';
import type { ScorerClient } from '../clients/scorer-client.ts';
import type { ImageRef, ItemOutcome, ScoreItem } from '../clients/scorer-protocol.ts';
import { EdgeError, ImageError, InvalidArgumentError, statusOf } from '../common/errors.ts';
import { bodyBytes, errorResponse, header, json, pathSegment, type Response, route } from '../common/http.ts';
import { type Logger, type Metrics, MetricUnit } from '../common/observability.ts';
import { ResultStore, resultId, type StoredResult, urlResultId } from '../results/store.ts';
import type { ApiConfig } from './config.ts';

export interface ApiDeps {
  config: ApiConfig;
  objects: ObjectStore;
  scorer: ScorerClient;
  logger: Logger;
  metrics: Metrics;
}

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/avif': 'avif',
  'image/heic': 'heic',
  'image/heif': 'heif',
  'image/tiff': 'tiff',
};

/** One `{ url } | { s3 } ` input with optional text and id, validated with messages that say what was expected. */
function parseInput(raw: unknown, index: number | undefined, config: ApiConfig): ScoreItem {
  const where = index === undefined ? 'the body' : `items[${index}]`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidArgumentError(`Expected ${where} to be an object with "url" or "s3"`);
  }
  const r = raw as Record<string, unknown>;
  const unknown = Object.keys(r).filter((k) => !['url', 's3', 'text', 'id'].includes(k));
  if (unknown.length)
    throw new InvalidArgumentError(
      `Unexpected field(s) ${unknown.join(', ')} in ${where}; expected url or s3, text, id`,
    );
  let image: ImageRef;
  if (typeof r['url'] === 'string' && r['s3'] === undefined) {
    image = { url: checkUrl(r['url'], config.url.allowedOrigins).href };
  } else if (r['s3'] && typeof r['s3'] === 'object' && r['url'] === undefined) {
    const s3 = r['s3'] as Record<string, unknown>;
    if (typeof s3['bucket'] !== 'string' || typeof s3['key'] !== 'string' || s3['key'] === '') {
      throw new InvalidArgumentError(`Expected ${where}.s3 to be { "bucket": string, "key": string }`);
    }
    if (!config.allowedBuckets.includes(s3['bucket'])) {
      throw new InvalidArgumentError(
        `Expected ${where}.s3.bucket to be one of ${config.allowedBuckets.join(', ')} but received ${JSON.stringify(s3['bucket'])}`,
      );
    }
    image = { s3: { bucket: s3['bucket'], key: s3['key'] } };
  } else {
    throw new InvalidArgumentError(
      `Expected ${where} to have exactly one of "url" (string) or "s3" ({ bucket, key })`,
    );
  }
  const text = r['text'];
  if (
    text !== undefined &&
    typeof text !== 'string' &&
    !(Array.isArray(text) && text.every((t) => typeof t === 'string'))
  ) {
    throw new InvalidArgumentError(`Expected ${where}.text to be a string or an array of strings`);
  }
  const id = r['id'] ?? ('s3' in image ? image.s3.key : image.url);
  if (typeof id !== 'string' || id === '')
    throw new InvalidArgumentError(`Expected ${where}.id to be a non-empty string`);
  return { id, image, ...(text !== undefined ? { text: text as string | string[] } : {}) };
}

interface Parsed {
  items: ScoreItem[];
  batch: boolean;
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
    // Content-addressed staging: the same bytes land on the same key (idempotent), and only the
    // reference travels to the scorer.
    const digest = createHash('sha256').update(bytes).digest('hex');
    const key = `${config.store.stagingPrefix}${digest}.${EXTENSIONS[contentType] ?? 'bin'}`;
    await deps.objects.put({ bucket: config.bucket, key }, bytes, contentType);
    const text = event.queryStringParameters?.['text'];
    return {
      batch: false,
      items: [{ id: digest, image: { s3: { bucket: config.bucket, key } }, ...(text ? { text } : {}) }],
    };
  }
  if (contentType !== 'application/json') {
    throw new EdgeError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Expected Content-Type image/* or application/octet-stream (the image bytes) or application/json ({ url } | { s3 } | { items }) but received ${contentType || 'none'}`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new InvalidArgumentError('Expected a JSON body but it does not parse');
  }
  if (body && typeof body === 'object' && 'items' in body) {
    const items = (body as { items: unknown }).items;
    if (!Array.isArray(items) || items.length === 0 || items.length > config.maxBatchItems) {
      throw new InvalidArgumentError(
        `Expected "items" to be an array of 1 to ${config.maxBatchItems} inputs`,
      );
    }
    return { batch: true, items: items.map((item, i) => parseInput(item, i, config)) };
  }
  return { batch: false, items: [parseInput(body, undefined, config)] };
}

function present(item: ScoreItem, outcome: ItemOutcome, stored: string | undefined) {
  if (!outcome.ok) return { id: item.id, ok: false, error: outcome.error };
  return { id: item.id, ok: true, ...(stored ? { resultId: stored } : {}), ...outcome.result };
}

async function postScores(event: APIGatewayProxyEventV2, deps: ApiDeps): Promise<Response> {
  const started = performance.now();
  const { items, batch } = await parseScoreRequest(event, deps);
  const answer = await deps.scorer.score({ items });
  const results = new ResultStore(deps.objects, deps.config.store.resultsPrefix);
  const presented = await Promise.all(
    items.map(async (item, i) => {
      const outcome = answer.outcomes[i] ?? {
        id: item.id,
        ok: false as const,
        error: { code: 'INTERNAL' as const, message: 'The scorer answered no outcome for this item' },
      };
      let stored: string | undefined;
      if ('s3' in item.image && item.image.s3.bucket === deps.config.bucket) {
        const { bucket, key } = item.image.s3;
        const document: StoredResult = results.build(
          { bucket, key, etag: outcome.ok ? (outcome.source?.etag ?? '') : '' },
          answer.model,
          outcome.ok ? { ok: true, result: outcome.result } : { ok: false, error: outcome.error },
        );
        await results.put(document);
        stored = resultId(key);
      } else if ('url' in item.image) {
        const id = urlResultId(item.image.url);
        const sha256 = outcome.ok ? outcome.source?.sha256 : undefined;
        await results.putUrl(deps.config.bucket, {
          id,
          source: { url: item.image.url, ...(sha256 ? { sha256 } : {}) },
          model: { name: answer.model.name, version: answer.model.version },
          scoredAt: new Date().toISOString(),
          ...(outcome.ok ? { ok: true, result: outcome.result } : { ok: false, error: outcome.error }),
        });
        stored = id;
      }
      deps.metrics.addMetric(
        outcome.ok ? 'ImagesScored' : `Error_${outcome.error.code}`,
        MetricUnit.Count,
        1,
      );
      return present(item, outcome, stored);
    }),
  );
  const timings = { totalMs: Number((performance.now() - started).toFixed(2)) };
  if (batch) return json(200, { model: answer.model, items: presented, timings });
  const only = presented[0]!;
  if (!only.ok)
    return json(statusOf((only as { error: { code: string } }).error.code), {
      error: (only as { error: unknown }).error,
    });
  return json(200, { model: answer.model, ...only, requestTimings: timings });
}

async function getScore(id: string, deps: ApiDeps): Promise<Response> {
  const document = await new ResultStore(deps.objects, deps.config.store.resultsPrefix).find(
    deps.config.bucket,
    id,
  );
  if (!document)
    throw new EdgeError(
      'RESULT_NOT_FOUND',
      `No stored result has the id ${JSON.stringify(id.slice(0, 100))}`,
    );
  return json(200, document);
}

async function health(deps: ApiDeps): Promise<Response> {
  const answer = await deps.scorer.score({ items: [] });
  return json(200, { status: 'ok', model: answer.model, scorer: deps.scorer.target });
}

export async function handleApiRequest(event: APIGatewayProxyEventV2, deps: ApiDeps): Promise<Response> {
  const { method, path } = route(event);
  try {
    if (method === 'POST' && path === '/v1/scores') return await postScores(event, deps);
    if (method === 'GET' && path === '/v1/health') return await health(deps);
    const match = /^\/v1\/scores\/([^/]+)$/.exec(path);
    if (method === 'GET' && match) return await getScore(pathSegment('the result id', match[1]!), deps);
    throw new EdgeError(
      'ROUTE_NOT_FOUND',
      `No route ${method} ${path}; routes: POST /v1/scores, GET /v1/scores/{id}, GET /v1/health`,
    );
  } catch (error) {
    return errorResponse(error, deps.logger);
  }
}
