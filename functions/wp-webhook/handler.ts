/**
 * wp-webhook: signed WordPress plugin delivery → score via the scorer → meta + tier term over WP REST.
 * See layers/core/src/wp-webhook/webhook.ts. Without WP_SITE_URL (a deployment that serves no
 * WordPress site) every request is answered 503 with what to configure.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { createScorerClient, scorerModel } from '#core/clients/scorer-client.ts';
import { siteFor } from '#core/clients/wordpress.ts';
import { observability } from '#core/common/observability.ts';
import { deadlineOf, type RemainingTime } from '#core/common/time.ts';
import { readWordPressConfig } from '#core/wp-webhook/config.ts';
import { secretsLoader } from '#core/wp-webhook/secrets.ts';
import { handleWebhook, seenDeliveries, type WebhookDeps } from '#core/wp-webhook/webhook.ts';

const { logger, metrics } = observability('wp-webhook');

function dependencies(): WebhookDeps | string {
  if (!process.env['WP_SITE_URL']) {
    return 'The WordPress integration is not configured: deploy with --param="wpSiteUrl=https://your.site/" and wpUser (docs/WORDPRESS.md)';
  }
  const config = readWordPressConfig();
  const scorer = createScorerClient(config.scorer, config.region, (n, reason) =>
    logger.warn('scorer attempt failed; retrying', { attempt: n, reason }),
  );
  return {
    config,
    scorer,
    secrets: secretsLoader(config.wordpress.secrets),
    site: siteFor(config.wordpress),
    logger,
    metrics,
    model: scorerModel(scorer, 5 * 60_000),
    seen: seenDeliveries(config.wordpress.toleranceS),
  };
}

const deps = dependencies();

export const webhook = async (
  event: APIGatewayProxyEventV2,
  context?: RemainingTime,
): Promise<APIGatewayProxyStructuredResultV2> => {
  if (typeof deps === 'string') {
    return {
      statusCode: 503,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: { code: 'WORDPRESS_FAILED', message: deps } }),
    };
  }
  return handleWebhook(event, deps, { deadline: deadlineOf(context, deps.config.reserveMs) });
};

// resetKeys: the delivery and attachment ids appended per request must not leak into the next one.
export const handler = middy(webhook)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
