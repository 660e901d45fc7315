/**
 * API keys of the HTTP API. A key is `mmlq_` and 43 base64url characters (32 random bytes); the stack
 * stores only its sha256, in a JSON list of entries:
 *
 *   [{ "id": "k3f9a2c1", "sha256": "<64 hex>", "name": "ci" }, ...]
 *
 * On AWS the list is an SSM Parameter Store SecureString (API_KEYS_PARAMETER), read once per warm
 * container and again after `ttlMs`, so that an added or revoked key takes effect without a redeploy;
 * locally it is the API_KEYS_JSON variable. A key is checked by hashing it and comparing the digest with
 * every entry in constant time. `npm run api-key -- create --name <who>` (tools/api-key.ts) makes one.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError, EdgeError } from '../common/errors.ts';
import { memoOne } from '../common/memo.ts';

export const KEY_PREFIX = 'mmlq_';
/** The shape of a key; anything else is refused without looking at the list. */
export const KEY_PATTERN = /^mmlq_[A-Za-z0-9_-]{43}$/;

export interface ApiKeyEntry {
  /** Short public identifier: logs and the score-api's request context name the key by it. */
  id: string;
  /** sha256 of the whole key, lowercase hex. */
  sha256: string;
  /** Who holds it (free text, e.g. "ci", "wordpress-prod"). */
  name?: string;
}

/** A new random key and its entry (the only moment the key itself exists). */
export function newApiKey(name?: string): { key: string; entry: ApiKeyEntry } {
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const entry: ApiKeyEntry = { id: `k${randomBytes(4).toString('hex')}`, sha256: hashKey(key) };
  if (name !== undefined) entry.name = name;
  return { key, entry };
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

const ID = /^[A-Za-z0-9_.-]{1,64}$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** Validates the list read from `where` (an SSM parameter or API_KEYS_JSON); throws ConfigError. */
export function parseKeyList(text: string | undefined, where: string): ApiKeyEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text ?? '');
  } catch {
    throw new ConfigError(`${where} must be JSON: [{"id": "...", "sha256": "<64 hex>", "name": "..."}]`);
  }
  if (!Array.isArray(json)) {
    throw new ConfigError(`${where} must be a JSON list of {"id", "sha256", "name"?} entries`);
  }
  const seen = new Set<string>();
  return json.map((raw, i) => {
    const e = raw as Partial<ApiKeyEntry> | null;
    if (!e || typeof e !== 'object' || typeof e.id !== 'string' || !ID.test(e.id)) {
      throw new ConfigError(`${where}[${i}].id must be 1 to 64 letters, digits, "_", "." or "-"`);
    }
    if (typeof e.sha256 !== 'string' || !SHA256.test(e.sha256)) {
      throw new ConfigError(`${where}[${i}].sha256 must be the key's sha256 in 64 lowercase hex digits`);
    }
    if (e.name !== undefined && typeof e.name !== 'string') {
      throw new ConfigError(`${where}[${i}].name must be a string`);
    }
    if (seen.has(e.id)) throw new ConfigError(`${where} has the id "${e.id}" twice`);
    seen.add(e.id);
    return { id: e.id, sha256: e.sha256, ...(e.name !== undefined ? { name: e.name } : {}) };
  });
}

/**
 * The entry a key belongs to, or undefined. Every entry is compared (no early exit) and each comparison
 * is constant-time over the digests, so the answer's timing says nothing about the list.
 */
export function findKey(key: string, entries: readonly ApiKeyEntry[]): ApiKeyEntry | undefined {
  const digest = Buffer.from(hashKey(key), 'hex');
  let found: ApiKeyEntry | undefined;
  for (const entry of entries) {
    if (timingSafeEqual(digest, Buffer.from(entry.sha256, 'hex')) && !found) found = entry;
  }
  return found;
}

/** Where the list comes from: an SSM SecureString (AWS) or the text itself (local). */
export type KeysSource =
  | { parameter: string; read: (name: string) => Promise<string | undefined> }
  | { json: string };

/**
 * The list, loaded once and again after `ttlMs`. A failed read is not cached (the next request retries)
 * and is an EdgeError STORAGE_FAILED; a malformed list is a ConfigError. Either way the caller refuses
 * the request: the API never opens because the list could not be read.
 */
export function keysLoader(
  source: KeysSource,
  { ttlMs = 60_000, now }: { ttlMs?: number; now?: () => number } = {},
): () => Promise<ApiKeyEntry[]> {
  if ('json' in source) {
    const entries = parseKeyList(source.json, 'API_KEYS_JSON');
    return () => Promise.resolve(entries);
  }
  const load = async () => {
    let text: string | undefined;
    try {
      text = await source.read(source.parameter);
    } catch (error) {
      throw new EdgeError(
        'STORAGE_FAILED',
        `Could not read the SSM parameter ${source.parameter} (${(error as Error).name})`,
        { cause: error },
      );
    }
    return parseKeyList(text, `SSM parameter ${source.parameter}`);
  };
  return memoOne(load, { ttlMs, ...(now ? { now } : {}) });
}
