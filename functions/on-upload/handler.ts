/**
 * on-upload: S3 ObjectCreated → core (score via the scorer, tag, write result JSON).
 * `backfill`: the same, for S3 Batch Operations tasks (a whole bucket or prefix; serverless.yml's
 * backfill function uses this export, with its own reserved concurrency).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { S3Event } from 'aws-lambda';
import { createS3Client, ObjectStore } from '#core/clients/s3.ts';
import { createScorerClient, scorerModel } from '#core/clients/scorer-client.ts';
import { observability } from '#core/common/observability.ts';
import { deadlineOf, type RemainingTime } from '#core/common/time.ts';
import { handleBatchEvent } from '#core/on-upload/batch-operations.ts';
import { readUploadConfig } from '#core/on-upload/config.ts';
import { handleUploadEvent } from '#core/on-upload/uploads.ts';

const config = readUploadConfig();
const { logger, metrics } = observability('on-upload');
const scorer = createScorerClient(config.scorer, config.region, (n, reason) =>
  logger.warn('scorer attempt failed; retrying', { attempt: n, reason }),
);
const deps = {
  config,
  objects: new ObjectStore(createS3Client(config.s3)),
  scorer,
  logger,
  metrics,
  model: scorerModel(scorer, 5 * 60_000),
};

export const onUpload = (event: S3Event, context?: RemainingTime) =>
  handleUploadEvent(event, deps, { deadline: deadlineOf(context, config.reserveMs) });

export const handler = middy(onUpload).use(injectLambdaContext(logger)).use(logMetrics(metrics));

export const onBatch = (event: unknown, context?: RemainingTime) =>
  handleBatchEvent(event, deps, { deadline: deadlineOf(context, config.reserveMs) });

export const backfill = middy(onBatch).use(injectLambdaContext(logger)).use(logMetrics(metrics));
