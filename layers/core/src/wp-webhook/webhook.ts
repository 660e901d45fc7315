/**
 * wp-webhook: a signed delivery from the WordPress plugin → score the attachment through the scorer
 * (by URL: references, never bytes) → write the score, the tier term and the idempotency key back to
 * the attachment over the site's REST API.
 *
 *   POST /v1/wordpress/webhook   (API Gateway HTTP API, payload 2.0)
 *
 * Answers, which the plugin acts on (docs/WORDPRESS.md):
 *   200 { status: "scored" | "duplicate" | "rejected" | "gone" | "pong" }   done; do not resend
 *   400 / 401                                                              permanent: fix, then resend
 *   502 / 503                                                              transient: resend with backoff
 * A bad image is not a failure: its error is written to the attachment (`mmlq_error`) and answered 200.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { checkUrl } from '../clients/safe-fetch.ts';
import type { CallOptions, ScorerClient } from '../clients/scorer-client.ts';
import type { ModelInfo } from '../clients/scorer-protocol.ts';
import { EdgeError, InvalidArgumentError, isPermanent } from '../common/errors.ts';
import { bodyBytes, errorResponse, header, json, type Response, route } from '../common/http.ts';
import { type Logger, type Metrics, MetricUnit } from '../common/observability.ts';
import { modelId } from '../results/store.ts';
import type { WordPressConfig } from './config.ts';
import { attachmentKey, attachmentTexts, parseWebhookPayload } from './payload.ts';
import type { WordPressSecrets } from './secrets.ts';
import { DELIVERY_HEADER, verifyWebhook } from './signature.ts';
import type { ScoreMeta, WordPressSite } from './site.ts';

export const WEBHOOK_PATH = '/v1/wordpress/webhook';

export interface WebhookDeps {
  config: WordPressConfig;
  scorer: ScorerClient;
  /** The webhook secret and the application password (cached by the caller). */
  secrets: () => Promise<WordPressSecrets>;
  /** The site's REST client for an application password. */
  site: (appPassword: string) => WordPressSite;
  logger: Logger;
  metrics: Metrics;
  /** Which model the scorer runs (cached by the caller); part of the idempotency key. */
  model: () => Promise<ModelInfo>;
  /** Delivery ids seen in this warm container (see seenDeliveries()). */
  seen?: SeenDeliveries;
  now?: () => number;
}

export interface SeenDeliveries {
  /** True the first time a delivery id is offered within the replay window. */
  first(id: string, nowMs: number): boolean;
}

/**
 * The delivery ids a warm container has accepted within the signature's replay window: a replayed
 * delivery (the same signed request sent again) is answered `duplicate` without rescoring. Across
 * containers the attachment's stored key does the same once the first delivery has written.
 */
export function seenDeliveries(windowS: number, max = 10_000): SeenDeliveries {
  const seen = new Map<string, number>();
  return {
    first(id, nowMs) {
      for (const [k, at] of seen) {
        if (nowMs - at <= windowS * 2000 && seen.size < max) break;
        seen.delete(k); // oldest first: Map keeps insertion order
      }
      if (seen.has(id)) return false;
      seen.set(id, nowMs);
      return true;
    },
  };
}

async function deliver(
  event: APIGatewayProxyEventV2,
  deps: WebhookDeps,
  call: CallOptions,
): Promise<Response> {
  const { config, logger, metrics } = deps;
  const contentType = (header(event, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'application/json') {
    throw new EdgeError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Expected Content-Type application/json (a delivery of the MMLQ Edge WordPress plugin) but received ${contentType || 'none'}`,
    );
  }
  const body = bodyBytes(event);
  const secrets = await deps.secrets();
  const nowMs = deps.now?.() ?? Date.now();
  const scheme = verifyWebhook(
    { body, header: (name) => header(event, name) },
    secrets.webhookSecret,
    config.wordpress.toleranceS,
    Math.floor(nowMs / 1000),
  );
  const delivery = header(event, DELIVERY_HEADER);
  if (!delivery || !/^[A-Za-z0-9-]{1,64}$/.test(delivery)) {
    throw new InvalidArgumentError(
      `Expected the header X-MMLQ-Delivery to be a delivery id (a UUID) but received ${delivery ? JSON.stringify(delivery.slice(0, 80)) : 'none'}`,
    );
  }
  // Only a signed delivery id (v2) means "this request was sent before": a v1 id could be changed.
  if (scheme === 'v2' && deps.seen && !deps.seen.first(delivery, nowMs)) {
    metrics.addMetric('DuplicateDeliveries', MetricUnit.Count, 1);
    return json(200, { status: 'duplicate', delivery });
  }
  if (scheme === 'v1') metrics.addMetric('LegacySignatures', MetricUnit.Count, 1);
  const payload = parseWebhookPayload(body);
  const siteOrigin = new URL(config.wordpress.siteUrl).origin;
  if (new URL(payload.site).origin !== siteOrigin) {
    throw new EdgeError(
      'WEBHOOK_UNAUTHORIZED',
      `Expected deliveries from ${siteOrigin} but this one says it is from ${new URL(payload.site).origin}`,
    );
  }
  const model = await deps.model();
  if (payload.event === 'ping') return json(200, { status: 'pong', model });

  const attachment = payload.attachment;
  const url = checkUrl(attachment.url, config.url.allowedOrigins).href;
  const key = attachmentKey(payload.site, attachment, model);
  logger.appendKeys({ delivery, attachment: attachment.id });
  const site = deps.site(secrets.appPassword);
  const stored = await site.storedKey(attachment.id);
  if (stored === undefined) {
    logger.info('attachment is gone; nothing to score');
    return json(200, { status: 'gone', attachment: attachment.id });
  }
  if (stored === key) {
    metrics.addMetric('DuplicateDeliveries', MetricUnit.Count, 1);
    return json(200, { status: 'duplicate', attachment: attachment.id, key });
  }

  const texts = attachmentTexts(attachment);
  const started = performance.now();
  // The plugin stops waiting after its own timeout: answer (with a typed error) before it does.
  const pluginDeadline = nowMs + config.wordpress.answerWithinMs - config.reserveMs;
  const answer = await deps.scorer.score(
    {
      items: [
        {
          id: String(attachment.id),
          image: { url },
          ...(texts.length ? { text: texts } : {}),
          ...(attachment.crops?.length ? { crops: attachment.crops } : {}),
        },
      ],
    },
    { deadline: Math.min(call.deadline ?? Number.POSITIVE_INFINITY, pluginDeadline) },
  );
  metrics.addMetric('ScorerLatency', MetricUnit.Milliseconds, performance.now() - started);
  const outcome = answer.outcomes[0];
  if (!outcome) throw new EdgeError('SCORER_FAILED', `The scorer answered no outcome for ${url}`);
  if (!outcome.ok && !isPermanent(outcome.error)) {
    throw new EdgeError(
      'SCORER_FAILED',
      `Scoring ${url} failed: ${outcome.error.code}: ${outcome.error.message}`,
    );
  }
  // The model that scored is the one in the key (a scorer may have been redeployed meanwhile).
  const scoredKey = attachmentKey(payload.site, attachment, answer.model);
  const common = {
    mmlq_model: modelId(answer.model),
    mmlq_scored_at: new Date().toISOString(),
    mmlq_key: scoredKey,
  };
  if (!outcome.ok) {
    await site.writeScore(
      attachment.id,
      { ...common, mmlq_error: `${outcome.error.code}: ${outcome.error.message}` },
      undefined,
    );
    metrics.addMetric(`Error_${outcome.error.code}`, MetricUnit.Count, 1);
    return json(200, { status: 'rejected', attachment: attachment.id, error: outcome.error });
  }
  const r = outcome.result;
  const meta: ScoreMeta = {
    ...common,
    mmlq_score: r.score,
    mmlq_std: r.std,
    mmlq_percentile: r.percentile,
    mmlq_tier: r.tier,
    mmlq_attributes: r.attributes ? JSON.stringify(r.attributes) : '',
    mmlq_error: '',
    mmlq_crops: r.crops ? JSON.stringify(r.crops) : '',
    mmlq_phash: r.image.phash,
  };
  await site.writeScore(attachment.id, meta, r.tier);
  metrics.addMetric('ImagesScored', MetricUnit.Count, 1);
  return json(200, {
    status: 'scored',
    attachment: attachment.id,
    score: r.score,
    percentile: r.percentile,
    tier: r.tier,
    mode: r.mode,
    model: answer.model,
  });
}

export async function handleWebhook(
  event: APIGatewayProxyEventV2,
  deps: WebhookDeps,
  call: CallOptions = {},
): Promise<Response> {
  const { method, path } = route(event);
  try {
    if (method !== 'POST' || path !== WEBHOOK_PATH) {
      throw new EdgeError('ROUTE_NOT_FOUND', `No route ${method} ${path}; route: POST ${WEBHOOK_PATH}`);
    }
    return await deliver(event, deps, call);
  } catch (error) {
    return errorResponse(error, deps.logger);
  }
}
