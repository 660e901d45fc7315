/**
 * Turns CLI arguments (files, folders, globs) into a sorted, de-duplicated list of image paths, and
 * finds the text that goes with each image: an entry in a JSON map, or a sidecar `.txt` file.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, extname, relative, resolve } from 'node:path';
import { glob } from 'tinyglobby';
import { InvalidArgumentError } from '../common/errors.ts';
import { IMAGE_SUFFIXES } from '../common/image-types.ts';

/** Matched in folders. No heic/heif: this build cannot decode HEVC (a file named explicitly gets the typed error). */
export const IMAGE_EXTENSIONS = IMAGE_SUFFIXES.map((s) => s.slice(1));

const imagePattern = `**/*.{${IMAGE_EXTENSIONS.flatMap((e) => [e, e.toUpperCase()]).join(',')}}`;

export interface ExpandedInputs {
  files: string[];
  /** Arguments that matched nothing. */
  unmatched: string[];
}

export async function expandInputs(args: readonly string[], cwd = process.cwd()): Promise<ExpandedInputs> {
  const found = new Set<string>();
  const unmatched: string[] = [];
  for (const arg of args) {
    const path = resolve(cwd, arg);
    const info = await stat(path).catch(() => undefined);
    let matches: string[];
    if (info?.isDirectory()) {
      matches = await glob(imagePattern, { cwd: path, absolute: true, onlyFiles: true });
    } else if (info?.isFile()) {
      matches = [path];
    } else {
      matches = await glob(arg, { cwd, absolute: true, onlyFiles: true });
    }
    if (matches.length === 0) unmatched.push(arg);
    for (const m of matches) found.add(m);
  }
  return { files: [...found].sort(), unmatched };
}

export type TextMap = Record<string, string | string[]>;

/** Reads a JSON object mapping image paths (relative to the map's cwd, or bare file names) to text. */
export async function readTextMap(path: string): Promise<TextMap> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new InvalidArgumentError(
      `Expected --text-map ${path} to be a readable JSON file: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidArgumentError(
      `Expected --text-map ${path} to hold a JSON object of "image path": "text" entries`,
    );
  }
  for (const [key, value] of Object.entries(json)) {
    const ok =
      typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'));
    if (!ok)
      throw new InvalidArgumentError(
        `Expected a string or an array of strings for "${key}" in --text-map ${path}`,
      );
  }
  return json as TextMap;
}

/** Map keys that name none of the files (by the rule textFor uses), in the map's order. */
export function unusedTextMapKeys(map: TextMap, files: readonly string[], cwd = process.cwd()): string[] {
  const names = new Set(files.flatMap((f) => [relative(cwd, f), f, basename(f)]));
  return Object.keys(map).filter((k) => !names.has(k));
}

/**
 * Text for one image: the map entry (by path relative to cwd, absolute path, or file name), else a
 * sidecar `photo.txt` or `photo.jpg.txt` beside it when sidecars are enabled.
 */
export async function textFor(
  file: string,
  map: TextMap | undefined,
  sidecars: boolean,
  cwd = process.cwd(),
): Promise<string | string[] | undefined> {
  if (map) {
    const hit = map[relative(cwd, file)] ?? map[file] ?? map[basename(file)];
    if (hit !== undefined) return hit;
  }
  if (!sidecars) return undefined;
  for (const candidate of [file.slice(0, file.length - extname(file).length) + '.txt', `${file}.txt`]) {
    try {
      return await readFile(candidate, 'utf8');
    } catch {
      // no sidecar there
    }
  }
  return undefined;
}
