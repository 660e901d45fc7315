/**
 * The HTTP API's Lambda REQUEST authorizer (payload 2.0, simple responses): a caller sends
 * `Authorization: Bearer <key>`; the key is allowed when its sha256 is in the key list (keys.ts).
 *
 * What API Gateway answers (none of it reaches score-api):
 *   no Authorization header        401 {"message":"Unauthorized"}   (API Gateway itself; no invocation)
 *   malformed or unknown key       403 {"message":"Forbidden"}      (isAuthorized: false, cached)
 *   key list unreadable            500 {"message":"Internal Server Error"} (this function throws, so
 *                                  nothing is cached and the caller may retry: fail closed)
 * An allowed request carries `context` { keyId, keyName } to score-api, never the key.
 */
import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerResult,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { type Logger, type Metrics, MetricUnit } from '../common/observability.ts';
import { type ApiKeyEntry, findKey, KEY_PATTERN } from './keys.ts';

export interface AuthContext {
  keyId: string;
  keyName: string;
}

export type AuthResult =
  | APIGatewaySimpleAuthorizerWithContextResult<AuthContext>
  | (APIGatewaySimpleAuthorizerResult & { isAuthorized: false });

export interface AuthorizerDeps {
  /** The current key list (keysLoader); rejects when it cannot be read. */
  keys: () => Promise<ApiKeyEntry[]>;
  logger: Logger;
  metrics: Metrics;
}

export type DenyReason = 'missing' | 'malformed' | 'unknown';

/** The credential in `Authorization: Bearer <key>`, or why there is none. */
export function bearerKey(
  event: Pick<APIGatewayRequestAuthorizerEventV2, 'headers'>,
): { key: string } | { reason: DenyReason } {
  let value: string | undefined;
  for (const [name, v] of Object.entries(event.headers ?? {})) {
    if (name.toLowerCase() === 'authorization') value = v;
  }
  if (value === undefined || value.trim() === '') return { reason: 'missing' };
  const match = /^Bearer +(\S+)\s*$/i.exec(value);
  if (!match || !KEY_PATTERN.test(match[1]!)) return { reason: 'malformed' };
  return { key: match[1]! };
}

export async function authorize(
  event: Pick<APIGatewayRequestAuthorizerEventV2, 'headers' | 'routeKey'>,
  deps: AuthorizerDeps,
): Promise<AuthResult> {
  const credential = bearerKey(event);
  const deny = (reason: DenyReason): AuthResult => {
    // Never the key or the header: only why, and which route.
    deps.logger.warn('API request refused', { reason, routeKey: event.routeKey });
    deps.metrics.addMetric('ApiKeyRejected', MetricUnit.Count, 1);
    return { isAuthorized: false };
  };
  if ('reason' in credential) return deny(credential.reason);
  let entries: ApiKeyEntry[];
  try {
    entries = await deps.keys();
  } catch (error) {
    // Throwing (not denying) keeps API Gateway from caching a refusal of a good key for the TTL.
    deps.logger.error('API key list unavailable; refusing the request', {
      error: error instanceof Error ? error.message : String(error),
    });
    deps.metrics.addMetric('ApiKeyListUnavailable', MetricUnit.Count, 1);
    throw error;
  }
  const entry = findKey(credential.key, entries);
  if (!entry) return deny('unknown');
  deps.metrics.addMetric('ApiKeyAccepted', MetricUnit.Count, 1);
  return { isAuthorized: true, context: { keyId: entry.id, keyName: entry.name ?? '' } };
}
