/**
 * Aspect ratios for smart crops, written `W:H` with positive integers (`16:9`, `1:1`, `4:5`, `3:2`).
 * Pure parsing, shared by the core (model/crop.ts), the scorer protocol and every entry point, so a bad
 * aspect is the same INVALID_ARGUMENT wherever it is given.
 */
import { InvalidArgumentError } from './errors.ts';

export interface Aspect {
  /** As given, normalised: `16:9`. */
  text: string;
  width: number;
  height: number;
}

/** Most aspects one image may ask for (each costs about one more full-size inference). */
export const MAX_ASPECTS = 4;

/** Largest number either side may have (`10000:1` is a strip already). */
export const MAX_ASPECT_TERM = 10_000;

const ASPECT = /^\s*(\d{1,5})\s*:\s*(\d{1,5})\s*$/;

/** Whether a value is a well-formed `W:H` (for schemas). */
export function isAspect(value: unknown): boolean {
  try {
    parseAspect(value);
    return true;
  } catch {
    return false;
  }
}

/** Parses one `W:H`; throws InvalidArgumentError naming what was expected. */
export function parseAspect(value: unknown, name = 'crop aspect'): Aspect {
  const match = typeof value === 'string' ? ASPECT.exec(value) : null;
  const width = match ? Number(match[1]) : Number.NaN;
  const height = match ? Number(match[2]) : Number.NaN;
  if (!match || width < 1 || height < 1 || width > MAX_ASPECT_TERM || height > MAX_ASPECT_TERM) {
    const received = typeof value === 'string' ? JSON.stringify(value) : `a value of type ${typeof value}`;
    throw new InvalidArgumentError(
      `Expected ${name} as W:H with positive integers up to ${MAX_ASPECT_TERM} (e.g. 16:9, 1:1, 4:5) but received ${received}`,
    );
  }
  return { text: `${width}:${height}`, width, height };
}

/**
 * Parses a list (an array, or one comma-separated string as the CLI and CROP_ASPECTS take it); drops
 * repeats (`16:9` twice is one crop); at most `max` distinct aspects.
 */
export function parseAspects(
  value: string | readonly string[],
  max: number,
  name = 'crop aspects',
): Aspect[] {
  const parts = typeof value === 'string' ? value.split(',').filter((p) => p.trim() !== '') : value;
  const out: Aspect[] = [];
  for (const part of parts) {
    const aspect = parseAspect(part, name);
    if (!out.some((a) => a.text === aspect.text)) out.push(aspect);
  }
  if (out.length > max) {
    throw new InvalidArgumentError(`Expected at most ${max} ${name} but received ${out.length}`);
  }
  return out;
}
