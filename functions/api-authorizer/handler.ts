/**
 * api-authorizer: API Gateway HTTP API Lambda REQUEST authorizer (simple responses) for score-api's
 * routes. See layers/core/src/api-auth/authorizer.ts.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { authorize } from '#core/api-auth/authorizer.ts';
import { readAuthConfig } from '#core/api-auth/config.ts';
import { keysLoader } from '#core/api-auth/keys.ts';
import { ssmParameterReader } from '#core/clients/ssm.ts';
import { observability } from '#core/common/observability.ts';

const config = readAuthConfig();
const { logger, metrics } = observability('api-authorizer');
const deps = {
  keys: keysLoader(
    config.parameter
      ? {
          parameter: config.parameter,
          read: ssmParameterReader({
            region: config.region,
            endpoint: config.ssmEndpoint,
            timeoutMs: config.ssmTimeoutMs,
          }),
        }
      : { json: config.keysJson! },
    { ttlMs: config.keysTtlMs },
  ),
  logger,
  metrics,
};

export const authorizeRequest = (event: APIGatewayRequestAuthorizerEventV2) => authorize(event, deps);

export const handler = middy(authorizeRequest).use(injectLambdaContext(logger)).use(logMetrics(metrics));
