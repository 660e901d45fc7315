/**
 * Small predicates for options and arguments, each throwing an InvalidArgumentError whose message
 * names the option, what was expected and what was received.
 */
import type { z } from 'zod';
import { describe, InvalidArgumentError } from './errors.ts';

export function invalid(name: string, expected: string, value: unknown): InvalidArgumentError {
  return mismatch(name, expected, describe(value));
}

/** Like invalid(), with the received part already worded. */
export function mismatch(name: string, expected: string, received: string): InvalidArgumentError {
  return new InvalidArgumentError(`Expected ${expected} for ${name} but received ${received}`);
}

export function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw invalid(name, 'positive integer', value);
  }
  return value;
}

export function nonNegativeInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw invalid(name, 'non-negative integer', value);
  }
  return value;
}

export function numberInRange(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(name, `number between ${min} and ${max}`, value);
  }
  return value;
}

export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(name, `one of ${allowed.join(', ')}`, value);
  }
  return value as T;
}

/** Parses untrusted JSON text; anything else is the caller's mistake, said with `message`. */
export function parseJsonText(text: string, message: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidArgumentError(message);
  }
}

/**
 * Parses untrusted input with a zod schema; the error names the first offending field:
 * "Expected <expected> but items[2].text is invalid: Too big: expected array to have <=50 items".
 * `at` prefixes the field's path (e.g. "items[2]"); `whole` names the input itself.
 */
export function parseWith<T>(
  schema: z.ZodType<T>,
  input: unknown,
  expected: string,
  { at, whole = at ?? 'the input' }: { at?: string; whole?: string } = {},
): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.map(String).join('.');
  const field = path === '' ? whole : at ? `${at}.${path}` : path;
  throw new InvalidArgumentError(`Expected ${expected} but ${field} is invalid: ${issue.message}`);
}
