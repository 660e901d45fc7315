/**
 * Readers of environment variables for configuration read once at cold start. Each takes the
 * environment as an argument (tests pass a plain object) and throws ConfigError with a message that
 * names the variable: "Environment variable X is required", "... must be an integer >= 1 but is "0"".
 */
import { ConfigError } from './errors.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

export function required(env: Env, name: string, hint = ''): string {
  const v = value(env, name);
  if (v === undefined) throw new ConfigError(`Environment variable ${name} is required${hint}`);
  return v;
}

export function optional(env: Env, name: string, fallback: string): string {
  return value(env, name) ?? fallback;
}

export function integer(env: Env, name: string, fallback: number, min = 1): number {
  const v = value(env, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new ConfigError(`Environment variable ${name} must be an integer >= ${min} but is "${v}"`);
  }
  return n;
}

export function boolean(env: Env, name: string, fallback: boolean): boolean {
  const v = value(env, name)?.toLowerCase();
  if (v === undefined) return fallback;
  if (['1', 'true', 'yes'].includes(v)) return true;
  if (['0', 'false', 'no'].includes(v)) return false;
  throw new ConfigError(`Environment variable ${name} must be true or false but is "${v}"`);
}

export function list(env: Env, name: string, fallback: readonly string[]): string[] {
  const v = value(env, name);
  if (v === undefined) return [...fallback];
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A key prefix: "" (whole bucket) or ending in "/". */
export function prefix(env: Env, name: string, fallback: string): string {
  const v = env[name] === undefined ? fallback : env[name]!.trim();
  if (v !== '' && (!v.endsWith('/') || v.startsWith('/'))) {
    throw new ConfigError(
      `Environment variable ${name} must be empty or a key prefix ending in "/" (e.g. "uploads/") but is "${v}"`,
    );
  }
  return v;
}
