/**
 * Structured JSON logs and CloudWatch embedded-format metrics through AWS Powertools for Lambda.
 * Handlers wrap their function with `injectLambdaContext(logger)` and `logMetrics(metrics)` (middy);
 * the core code receives the logger and metrics as dependencies.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

export { MetricUnit };

export interface Observability {
  logger: Logger;
  metrics: Metrics;
}

export function observability(serviceName: string, namespace = 'mmlq-edge'): Observability {
  return {
    logger: new Logger({ serviceName }),
    metrics: new Metrics({ namespace, serviceName }),
  };
}

export type { Logger, Metrics };
