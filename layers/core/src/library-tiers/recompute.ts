/**
 * The scheduled recompute of the library tiers (results/library.ts): ranks every library of the upload
 * prefix again from its stored results, writes the summaries and re-tags the images whose library tier
 * changed. Libraries whose results did not change since their summary are skipped after one listing, so
 * a schedule that finds nothing new costs a LIST per 1,000 results.
 */
import type { ObjectStore } from '../clients/s3.ts';
import { type Logger, type Metrics, MetricUnit } from '../common/observability.ts';
import { LibraryStore, mixedModels, type RecomputeReport } from '../results/library.ts';
import type { LibraryTiersConfig } from './config.ts';

export async function recomputeLibraryTiers(deps: {
  config: LibraryTiersConfig;
  objects: ObjectStore;
  logger: Logger;
  metrics: Metrics;
}): Promise<RecomputeReport> {
  const { config, logger, metrics } = deps;
  const { bucket } = config;
  if (!config.library) {
    logger.info('library tiers are off (LIBRARY_TIERS=off): nothing to do');
    return { libraries: [] };
  }
  const store = new LibraryStore(deps.objects, config.resultsPrefix, config.library.layout);
  const report = await store.recompute(bucket, { shares: config.library.shares });
  for (const l of report.libraries) {
    logger.info('library tiers', { bucket, ...l });
    const mixed = mixedModels(l.models);
    if (mixed) logger.warn(mixed, { bucket, library: l.library, models: l.models });
  }
  metrics.addMetric('LibrariesRanked', MetricUnit.Count, report.libraries.filter((l) => !l.unchanged).length);
  metrics.addMetric(
    'LibraryRetags',
    MetricUnit.Count,
    report.libraries.reduce((n, l) => n + l.retagged, 0),
  );
  return report;
}
