/**
 * What every HTTP function answers with (API Gateway HTTP API, payload 2.0): JSON bodies, the one
 * error shape `{ error: { code, message } }` with the code's status, and generic 5xx messages (the
 * cause goes to the log, never to the caller).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { InvalidArgumentError, statusOf, toErrorPayload } from './errors.ts';
import type { Logger } from './observability.ts';

export type Response = APIGatewayProxyStructuredResultV2;

export function json(statusCode: number, body: unknown): Response {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}

/** The answer for anything thrown: 4xx say what was wrong; 5xx are logged and stay generic. */
export function errorResponse(error: unknown, logger?: Logger): Response {
  const payload = toErrorPayload(error);
  const status = statusOf(payload.code);
  if (status >= 500) {
    logger?.error('request failed', {
      code: payload.code,
      error: error instanceof Error ? error.message : String(error),
    });
    const generic =
      payload.code === 'SCORER_UNAVAILABLE'
        ? 'The scorer is unavailable; retry later'
        : 'Internal error; retry later';
    return json(status, { error: { code: payload.code, message: generic } });
  }
  return json(status, { error: payload });
}

/** A request header, whatever its case. */
export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === wanted) return v;
  return undefined;
}

/** The raw body as API Gateway delivers it (base64 for binary media types). */
export function bodyBytes(event: APIGatewayProxyEventV2): Buffer {
  if (!event.body) return Buffer.alloc(0);
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

/** The method and the path without trailing slashes. */
export function route(event: APIGatewayProxyEventV2): { method: string; path: string } {
  return {
    method: event.requestContext?.http?.method ?? 'GET',
    path: (event.rawPath ?? '/').replace(/\/+$/, '') || '/',
  };
}

/** A percent-encoded path segment, decoded; a malformed one (`%`, `%zz`) is the caller's mistake. */
export function pathSegment(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidArgumentError(
      `Expected ${name} to be a percent-encoded path segment but received "${raw}"`,
    );
  }
}
