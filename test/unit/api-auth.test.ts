/**
 * The HTTP API's authorizer with a fake key list: every branch (no header, malformed, unknown key,
 * known key, key list unreadable → refused and retried, list reloaded after its TTL), the key list's
 * validation, and the configuration reader. The real path (serverless-offline) is in
 * test/integration/serverless-stack.test.ts.
 */
import { readFileSync } from 'node:fs';
import type { APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { authorize, bearerKey } from '#core/api-auth/authorizer.ts';
import { readAuthConfig } from '#core/api-auth/config.ts';
import {
  type ApiKeyEntry,
  findKey,
  hashKey,
  KEY_PATTERN,
  keysLoader,
  newApiKey,
  parseKeyList,
} from '#core/api-auth/keys.ts';
import type { Logger } from '#core/common/observability.ts';
import { countingMetrics, quietLogger } from '../helpers/fakes.ts';

const template = JSON.parse(
  readFileSync(new URL('../events/api-authorizer-request.json', import.meta.url), 'utf8'),
) as APIGatewayRequestAuthorizerEventV2;

/** The stored event with the given Authorization header (none: the header is absent). */
function eventWith(authorization?: string): APIGatewayRequestAuthorizerEventV2 {
  const { authorization: _, ...headers } = template.headers ?? {};
  return {
    ...template,
    identitySource: authorization === undefined ? [] : [authorization],
    headers: authorization === undefined ? headers : { ...headers, authorization },
  };
}

function setup(keys: () => Promise<ApiKeyEntry[]>) {
  const logger = quietLogger();
  const warnings: unknown[][] = [];
  (logger as unknown as { warn: (...a: unknown[]) => void }).warn = (...a) => warnings.push(a);
  const metrics = countingMetrics();
  const call = (event: APIGatewayRequestAuthorizerEventV2) =>
    authorize(event, { keys, logger: logger as Logger, metrics });
  return { logger, warnings, metrics, call };
}

const ci = newApiKey('ci');
const other = newApiKey();
const list = async () => [other.entry, ci.entry];

describe('api-auth: the authorizer', () => {
  it('allows a known key and hands score-api its id and name, never the key', async () => {
    const { call, metrics } = setup(list);
    const result = await call(eventWith(`Bearer ${ci.key}`));
    expect(result).toEqual({ isAuthorized: true, context: { keyId: ci.entry.id, keyName: 'ci' } });
    expect(JSON.stringify(result)).not.toContain(ci.key);
    expect(metrics.counts).toEqual({ ApiKeyAccepted: 1 });
  });

  it('accepts the scheme in any case and the header under any case', async () => {
    const { call } = setup(list);
    const event = eventWith();
    event.headers = { ...event.headers, Authorization: `bearer ${other.key}` };
    expect(await call(event)).toEqual({
      isAuthorized: true,
      context: { keyId: other.entry.id, keyName: '' },
    });
  });

  it.each([
    ['no Authorization header', undefined, 'missing'],
    ['an empty Authorization header', '', 'missing'],
    ['another scheme', `Basic ${Buffer.from('user:pass').toString('base64')}`, 'malformed'],
    ['the key without "Bearer"', ci.key, 'malformed'],
    ['a key of the wrong shape', 'Bearer mmlq_short', 'malformed'],
    ['two tokens', `Bearer ${ci.key} ${ci.key}`, 'malformed'],
    ['an unknown key of the right shape', `Bearer ${newApiKey().key}`, 'unknown'],
  ])('refuses %s (isAuthorized false) and logs why, not the header', async (_, header, reason) => {
    const { call, warnings, metrics } = setup(list);
    expect(await call(eventWith(header))).toEqual({ isAuthorized: false });
    expect(warnings).toEqual([['API request refused', { reason, routeKey: 'POST /v1/scores' }]]);
    expect(metrics.counts).toEqual({ ApiKeyRejected: 1 });
  });

  it('reads no key list for a malformed credential', async () => {
    let reads = 0;
    const { call } = setup(async () => {
      reads++;
      return [];
    });
    await call(eventWith('Bearer nope'));
    expect(reads).toBe(0);
  });

  it('fails closed when the key list cannot be read: it throws (API Gateway answers 500, caches nothing)', async () => {
    const keys = keysLoader({
      parameter: '/mmlq-edge/test/api-keys',
      read: async () => {
        throw Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
      },
    });
    const { call, logger, metrics } = setup(keys);
    await expect(call(eventWith(`Bearer ${ci.key}`))).rejects.toMatchObject({
      code: 'STORAGE_FAILED',
      message: 'Could not read the SSM parameter /mmlq-edge/test/api-keys (AccessDeniedException)',
    });
    expect(logger.errors[0]![0]).toBe('API key list unavailable; refusing the request');
    expect(metrics.counts).toEqual({ ApiKeyListUnavailable: 1 });
  });

  it('fails closed on a malformed key list in SSM', async () => {
    const { call } = setup(keysLoader({ parameter: '/p', read: async () => '{"id":"a"}' }));
    await expect(call(eventWith(`Bearer ${ci.key}`))).rejects.toThrow(
      'SSM parameter /p must be a JSON list of {"id", "sha256", "name"?} entries',
    );
  });
});

describe('api-auth: the key list (keysLoader)', () => {
  it('reads the SSM parameter once, then again after the TTL: an added key works, a revoked one stops', async () => {
    let t = 0;
    let stored = [ci.entry];
    const names: string[] = [];
    const keys = keysLoader(
      {
        parameter: '/mmlq-edge/test/api-keys',
        read: async (name) => {
          names.push(name);
          return JSON.stringify(stored);
        },
      },
      { ttlMs: 60_000, now: () => t },
    );
    const { call } = setup(keys);
    expect((await call(eventWith(`Bearer ${ci.key}`))).isAuthorized).toBe(true);
    stored = [other.entry]; // ci revoked, other added
    t = 59_000;
    expect((await call(eventWith(`Bearer ${ci.key}`))).isAuthorized).toBe(true);
    expect((await call(eventWith(`Bearer ${other.key}`))).isAuthorized).toBe(false);
    t = 60_001;
    expect((await call(eventWith(`Bearer ${ci.key}`))).isAuthorized).toBe(false);
    expect((await call(eventWith(`Bearer ${other.key}`))).isAuthorized).toBe(true);
    expect(names).toEqual(['/mmlq-edge/test/api-keys', '/mmlq-edge/test/api-keys']);
  });

  it('does not keep a failed read: the next request reads again', async () => {
    let reads = 0;
    const keys = keysLoader({
      parameter: '/p',
      read: async () => {
        reads++;
        if (reads === 1) throw new Error('throttled');
        return JSON.stringify([ci.entry]);
      },
    });
    await expect(keys()).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    expect(await keys()).toEqual([ci.entry]);
    expect(reads).toBe(2);
  });

  it('takes the list from API_KEYS_JSON locally and checks it at cold start', async () => {
    expect(await keysLoader({ json: JSON.stringify([ci.entry]) })()).toEqual([ci.entry]);
    expect(() => keysLoader({ json: 'nope' })).toThrow(
      'API_KEYS_JSON must be JSON: [{"id": "...", "sha256": "<64 hex>", "name": "..."}]',
    );
  });

  it.each([
    ['an entry without an id', [{ sha256: 'a'.repeat(64) }], 'L[0].id must be 1 to 64 letters'],
    ['an uppercase digest', [{ id: 'a', sha256: 'A'.repeat(64) }], 'L[0].sha256 must be the key'],
    ['the key instead of its digest', [{ id: 'a', sha256: ci.key }], 'L[0].sha256 must be the key'],
    [
      'a name that is not a string',
      [{ id: 'a', sha256: 'a'.repeat(64), name: 1 }],
      'L[0].name must be a string',
    ],
    [
      'an id twice',
      [
        { id: 'a', sha256: 'a'.repeat(64) },
        { id: 'a', sha256: 'b'.repeat(64) },
      ],
      'L has the id "a" twice',
    ],
  ])('refuses %s', (_, value, message) => {
    expect(() => parseKeyList(JSON.stringify(value), 'L')).toThrow(message);
  });

  it('accepts an empty list (every request refused)', () => {
    expect(parseKeyList('[]', 'L')).toEqual([]);
  });
});

describe('api-auth: keys', () => {
  it('makes keys of the documented shape, stores only their sha256', () => {
    const { key, entry } = newApiKey('wordpress-prod');
    expect(key).toMatch(KEY_PATTERN);
    expect(entry).toEqual({
      id: expect.stringMatching(/^k[0-9a-f]{8}$/),
      sha256: hashKey(key),
      name: 'wordpress-prod',
    });
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('finds a key by its digest among several, and nothing for another', () => {
    expect(findKey(ci.key, [other.entry, ci.entry])).toBe(ci.entry);
    expect(findKey(newApiKey().key, [other.entry, ci.entry])).toBeUndefined();
    expect(findKey(ci.key, [])).toBeUndefined();
  });

  it('reads a Bearer credential and says why when there is none', () => {
    expect(bearerKey({ headers: { authorization: `Bearer ${ci.key}` } })).toEqual({ key: ci.key });
    expect(bearerKey({})).toEqual({ reason: 'missing' });
    expect(bearerKey({ headers: { authorization: 'Bearer' } })).toEqual({ reason: 'malformed' });
  });
});

describe('api-auth: configuration', () => {
  it('needs an SSM parameter or a local list', () => {
    expect(() => readAuthConfig({})).toThrow(
      'Environment variable API_KEYS_PARAMETER (an SSM SecureString with the key list) or API_KEYS_JSON is required',
    );
    expect(() => readAuthConfig({ API_KEYS_PARAMETER: 'api-keys' })).toThrow(
      'Environment variable API_KEYS_PARAMETER must be an SSM parameter name starting with "/" but is "api-keys"',
    );
  });

  it('prefers the SSM parameter, with a 60 s TTL unless API_KEYS_TTL_S says otherwise', () => {
    expect(
      readAuthConfig({ API_KEYS_PARAMETER: '/s/p', API_KEYS_JSON: '[]', AWS_REGION: 'eu-west-1' }),
    ).toEqual({
      parameter: '/s/p',
      keysJson: undefined,
      keysTtlMs: 60_000,
      region: 'eu-west-1',
      ssmEndpoint: undefined,
      ssmTimeoutMs: 3000,
    });
    expect(readAuthConfig({ API_KEYS_JSON: '[]', API_KEYS_TTL_S: '5' })).toMatchObject({
      parameter: undefined,
      keysJson: '[]',
      keysTtlMs: 5000,
    });
    expect(() => readAuthConfig({ API_KEYS_JSON: '[]', API_KEYS_TTL_S: '0' })).toThrow(
      'Environment variable API_KEYS_TTL_S must be an integer >= 1 but is "0"',
    );
  });
});
