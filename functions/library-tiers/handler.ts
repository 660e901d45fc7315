/**
 * library-tiers: the schedule that ranks each library of BUCKET again from its stored results, writes
 * the summaries and re-tags the images whose library tier changed (core: library-tiers/recompute.ts).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { createS3Client, ObjectStore } from '#core/clients/s3.ts';
import { observability } from '#core/common/observability.ts';
import { readLibraryTiersConfig } from '#core/library-tiers/config.ts';
import { recomputeLibraryTiers } from '#core/library-tiers/recompute.ts';

const config = readLibraryTiersConfig();
const { logger, metrics } = observability('library-tiers');
const deps = { config, objects: new ObjectStore(createS3Client(config.s3)), logger, metrics };

export const onSchedule = () => recomputeLibraryTiers(deps);

export const handler = middy(onSchedule).use(injectLambdaContext(logger)).use(logMetrics(metrics));
