/** Configuration of on-upload, read once at cold start (docs/DEPLOY.md lists every variable). */

import { type EdgeConfig, readEdgeConfig } from '../clients/config.ts';
import { MAX_ASPECTS, parseAspects } from '../common/aspects.ts';
import { type Env, list, prefix, value } from '../common/env.ts';
import { ConfigError } from '../common/errors.ts';
import { IMAGE_SUFFIXES } from '../common/image-types.ts';
import { type LibraryConfig, readLibraryConfig } from '../results/library.ts';

export interface UploadConfig extends EdgeConfig {
  uploadPrefix: string;
  /** Lower-case suffixes of keys to score; empty = every key under the prefix. */
  uploadSuffixes: string[];
  /** Aspects (`16:9`, ...) whose best crop goes into each result; empty (the default) = none. */
  cropAspects: string[];
  /** Library tiers (results/library.ts); undefined when LIBRARY_TIERS is "off". */
  library: LibraryConfig | undefined;
}

/** CROP_ASPECTS: comma-separated W:H aspects, at most MAX_ASPECTS; unset or empty = no crops. */
export function cropAspectsOf(env: Env, name = 'CROP_ASPECTS'): string[] {
  const v = value(env, name);
  if (v === undefined) return [];
  try {
    return parseAspects(v, MAX_ASPECTS).map((a) => a.text);
  } catch (error) {
    throw new ConfigError(
      `Environment variable ${name} must be up to ${MAX_ASPECTS} comma-separated aspects W:H (e.g. "16:9,1:1") but is "${v}": ${(error as Error).message}`,
    );
  }
}

/**
 * The formats the scorer decodes (model/image.ts SUPPORTED_FORMATS), as serverless.yml's uploadSuffixes.
 * No .heic/.heif: sharp's prebuilt libvips cannot decode HEVC, so they would only ever get an error.
 */
export const DEFAULT_SUFFIXES = IMAGE_SUFFIXES;

export function readUploadConfig(env: Env = process.env): UploadConfig {
  const edge = readEdgeConfig(env);
  const uploadPrefix = prefix(env, 'UPLOAD_PREFIX', 'uploads/');
  return {
    ...edge,
    uploadPrefix,
    uploadSuffixes: list(env, 'UPLOAD_SUFFIXES', DEFAULT_SUFFIXES).map((s) => s.toLowerCase()),
    cropAspects: cropAspectsOf(env),
    library: readLibraryConfig(env, uploadPrefix),
  };
}
