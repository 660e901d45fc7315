/** Configuration of the HTTP API's authorizer, read once at cold start (docs/DEPLOY.md). */
import { type Env, integer, optional, value } from '../common/env.ts';
import { ConfigError } from '../common/errors.ts';

export interface AuthConfig {
  /** SSM SecureString holding the key list (AWS), or undefined when `keysJson` is used. */
  parameter: string | undefined;
  /** The key list itself (the local stack: API_KEYS_JSON). */
  keysJson: string | undefined;
  /** How long a read list is used before it is read again. */
  keysTtlMs: number;
  region: string;
  /** Custom SSM endpoint (tests); undefined on AWS. */
  ssmEndpoint: string | undefined;
  /** Each SSM request fails after this long (SSM_TIMEOUT_MS). */
  ssmTimeoutMs: number;
}

export function readAuthConfig(env: Env = process.env): AuthConfig {
  const parameter = value(env, 'API_KEYS_PARAMETER');
  const keysJson = value(env, 'API_KEYS_JSON');
  if (parameter === undefined && keysJson === undefined) {
    throw new ConfigError(
      'Environment variable API_KEYS_PARAMETER (an SSM SecureString with the key list) or API_KEYS_JSON is required',
    );
  }
  if (parameter !== undefined && !parameter.startsWith('/')) {
    throw new ConfigError(
      `Environment variable API_KEYS_PARAMETER must be an SSM parameter name starting with "/" but is "${parameter}"`,
    );
  }
  return {
    parameter,
    keysJson: parameter === undefined ? keysJson : undefined,
    keysTtlMs: integer(env, 'API_KEYS_TTL_S', 60) * 1000,
    region: optional(env, 'AWS_REGION', 'us-east-1'),
    ssmEndpoint: value(env, 'SSM_ENDPOINT'),
    ssmTimeoutMs: integer(env, 'SSM_TIMEOUT_MS', 3_000),
  };
}
