/** Configuration of the libraryTiers schedule, read once at cold start (docs/DEPLOY.md lists every variable). */
import { readS3, type S3Config } from '../clients/config.ts';
import { type Env, prefix, required } from '../common/env.ts';
import { type LibraryConfig, readLibraryConfig } from '../results/library.ts';

export interface LibraryTiersConfig {
  /** The bucket whose libraries the schedule ranks (BUCKET). */
  bucket: string;
  s3: S3Config;
  resultsPrefix: string;
  /** undefined when LIBRARY_TIERS is "off". */
  library: LibraryConfig | undefined;
}

export function readLibraryTiersConfig(env: Env = process.env): LibraryTiersConfig {
  return {
    bucket: required(env, 'BUCKET', ' (the bucket whose libraries the schedule ranks)'),
    s3: readS3(env),
    resultsPrefix: prefix(env, 'RESULTS_PREFIX', 'results/'),
    library: readLibraryConfig(env, prefix(env, 'UPLOAD_PREFIX', 'uploads/')),
  };
}
