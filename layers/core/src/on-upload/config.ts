/** Configuration of on-upload, read once at cold start (docs/DEPLOY.md lists every variable). */

import { type EdgeConfig, readEdgeConfig } from '../clients/config.ts';
import { type Env, list, prefix } from '../common/env.ts';
import { IMAGE_SUFFIXES } from '../common/image-types.ts';

export interface UploadConfig extends EdgeConfig {
  uploadPrefix: string;
  /** Lower-case suffixes of keys to score; empty = every key under the prefix. */
  uploadSuffixes: string[];
}

/**
 * The formats the scorer decodes (model/image.ts SUPPORTED_FORMATS), as serverless.yml's uploadSuffixes.
 * No .heic/.heif: sharp's prebuilt libvips cannot decode HEVC, so they would only ever get an error.
 */
export const DEFAULT_SUFFIXES = IMAGE_SUFFIXES;

export function readUploadConfig(env: Env = process.env): UploadConfig {
  const edge = readEdgeConfig(env);
  return {
    ...edge,
    uploadPrefix: prefix(env, 'UPLOAD_PREFIX', 'uploads/'),
    uploadSuffixes: list(env, 'UPLOAD_SUFFIXES', DEFAULT_SUFFIXES).map((s) => s.toLowerCase()),
  };
}
