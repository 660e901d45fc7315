/** score-api: API Gateway HTTP API → core → JSON response. See layers/core/src/score-api/api.ts. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createS3Client, ObjectStore } from '#core/clients/s3.ts';
import { createScorerClient } from '#core/clients/scorer-client.ts';
import { observability } from '#core/common/observability.ts';
import { deadlineOf, type RemainingTime } from '#core/common/time.ts';
import { handleApiRequest } from '#core/score-api/api.ts';
import { readApiConfig } from '#core/score-api/config.ts';

const config = readApiConfig();
const { logger, metrics } = observability('score-api');
const deps = {
  config,
  objects: new ObjectStore(createS3Client(config.s3)),
  scorer: createScorerClient(config.scorer, config.region, (n, reason) =>
    logger.warn('scorer attempt failed; retrying', { attempt: n, reason }),
  ),
  logger,
  metrics,
};

export const score = (event: APIGatewayProxyEventV2, context?: RemainingTime) =>
  handleApiRequest(event, deps, { deadline: deadlineOf(context, config.reserveMs) });

export const handler = middy(score).use(injectLambdaContext(logger)).use(logMetrics(metrics));
