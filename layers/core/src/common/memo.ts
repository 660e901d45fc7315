/**
 * Promise caches for what loads once per warm container (a model, a secret, the scorer's model info).
 * Concurrent callers share one promise; a rejected promise is evicted so that the next call retries
 * (a failed load never sticks); with `ttlMs`, a value is loaded again once it is older than that.
 */
export interface MemoOptions<K> {
  /** Reload a value older than this (default: keep it for the container's life). */
  ttlMs?: number;
  /** Cache key of an argument (default: String(key)). */
  keyOf?: (key: K) => string;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

export interface Memo<K, V> {
  get(key: K): Promise<V>;
  /** The promises held now, and forget them (e.g. to release sessions on shutdown). */
  drain(): Promise<V>[];
}

export function memo<K, V>(load: (key: K) => Promise<V>, options: MemoOptions<K> = {}): Memo<K, V> {
  const { ttlMs = Number.POSITIVE_INFINITY, keyOf = String, now = Date.now } = options;
  const entries = new Map<string, { at: number; value: Promise<V> }>();
  return {
    get(key) {
      const id = keyOf(key);
      const hit = entries.get(id);
      if (hit && now() - hit.at <= ttlMs) return hit.value;
      // A throw inside load() becomes a rejection, evicted like any other.
      const value = Promise.resolve().then(() => load(key));
      entries.set(id, { at: now(), value });
      value.catch(() => {
        if (entries.get(id)?.value === value) entries.delete(id);
      });
      return value;
    },
    drain() {
      const held = [...entries.values()].map((e) => e.value);
      entries.clear();
      return held;
    },
  };
}

/** memo() of a function without arguments. */
export function memoOne<V>(
  load: () => Promise<V>,
  options: Omit<MemoOptions<void>, 'keyOf'> = {},
): () => Promise<V> {
  const m = memo<void, V>(load, { ...options, keyOf: () => '' });
  return () => m.get();
}
