/** Configuration of wp-webhook, read once at cold start (docs/DEPLOY.md lists every variable). */

import { type EdgeConfig, readEdgeConfig, readUrlFetch, type UrlFetchConfig } from '../clients/config.ts';
import { type Env, integer, required, value } from '../common/env.ts';
import { ConfigError } from '../common/errors.ts';
import type { SecretsSource } from './secrets.ts';

export interface WordPressConfig extends EdgeConfig {
  wordpress: {
    /** The one site this deployment serves, e.g. https://example.com/ (REST at <siteUrl>wp-json/). */
    siteUrl: string;
    /** A user with the plugin's MMLQ Edge scorer role; their application password is one of the secrets. */
    user: string;
    /** Where the webhook secret and the application password come from (wp-webhook/secrets.ts). */
    secrets: SecretsSource;
    /** How far a delivery's timestamp may be from now. */
    toleranceS: number;
    /** Each REST call to the site fails after this long without an answer (WP_TIMEOUT_MS). */
    timeoutMs: number;
    /** Answer within this (WP_ANSWER_WITHIN_MS): below the plugin's own timeout (15 s by default). */
    answerWithinMs: number;
  };
  /** Where image URLs may point (default: the site's origin). */
  url: UrlFetchConfig;
}

export function readWordPressConfig(env: Env = process.env): WordPressConfig {
  const edge = readEdgeConfig(env);
  const siteUrl = required(env, 'WP_SITE_URL');
  let origin: string;
  try {
    origin = new URL(siteUrl).origin;
  } catch {
    throw new ConfigError(
      `Environment variable WP_SITE_URL must be a URL like https://example.com/ but is "${siteUrl}"`,
    );
  }
  // The application password travels in every REST call: only over HTTPS, except to a local site.
  const url = readUrlFetch(env);
  if (new URL(siteUrl).protocol !== 'https:' && !url.allowPrivateNetworks) {
    throw new ConfigError(
      `Environment variable WP_SITE_URL must be an https:// URL (the application password is sent with every call) but is "${siteUrl}"`,
    );
  }
  const parameter = value(env, 'WP_SECRETS_PARAMETER');
  const secrets: SecretsSource = parameter
    ? {
        parameter,
        region: edge.region,
        endpoint: value(env, 'SSM_ENDPOINT'),
        timeoutMs: integer(env, 'SSM_TIMEOUT_MS', 3_000),
      }
    : {
        values: {
          webhookSecret: required(env, 'WP_WEBHOOK_SECRET', ' (or WP_SECRETS_PARAMETER)'),
          appPassword: required(env, 'WP_APP_PASSWORD', ' (or WP_SECRETS_PARAMETER)'),
        },
      };

  return {
    ...edge,
    wordpress: {
      siteUrl,
      user: required(env, 'WP_USER'),
      secrets,
      toleranceS: integer(env, 'WP_TIMESTAMP_TOLERANCE_S', 300),
      timeoutMs: integer(env, 'WP_TIMEOUT_MS', 5_000),
      answerWithinMs: integer(env, 'WP_ANSWER_WITHIN_MS', 14_000),
    },
    url: { ...url, allowedOrigins: url.allowedOrigins.length ? url.allowedOrigins : [origin] },
  };
}
