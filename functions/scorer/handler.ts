/**
 * scorer (Lambda entry point): { items: [{ id, image: { s3 } | { url }, text? }] } → one outcome per item.
 * The model loads once per warm container. A job that is not valid answers { error } (not retried);
 * anything else that goes wrong throws, so the caller retries.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { parseJob } from '#core/clients/scorer-protocol.ts';
import { toErrorPayload } from '#core/common/errors.ts';
import { memoOne } from '#core/common/memo.ts';
import { MetricUnit, observability } from '#core/common/observability.ts';
import { readScorerConfig } from '#core/scorer-service/config.ts';
import { ScoringService } from '#core/scorer-service/service.ts';

const config = readScorerConfig();
const { logger, metrics } = observability('scorer');
// The model loads once per warm container; a failed load is retried by the next invocation.
const loaded = memoOne(() => ScoringService.create(config, (m) => logger.warn(m)));

export async function score(event: unknown) {
  let job: ReturnType<typeof parseJob>;
  try {
    job = parseJob(event);
  } catch (error) {
    return { error: toErrorPayload(error) };
  }
  const scorer = await loaded();
  const answer = await scorer.run(job);
  for (const o of answer.outcomes) {
    metrics.addMetric(o.ok ? 'ImagesScored' : `Error_${o.error.code}`, MetricUnit.Count, 1);
  }
  logger.info('scored', { items: job.items.length, failed: answer.outcomes.filter((o) => !o.ok).length });
  return answer;
}

export const handler = middy(score).use(injectLambdaContext(logger)).use(logMetrics(metrics));
