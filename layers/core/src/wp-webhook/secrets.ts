/**
 * The two WordPress secrets (the plugin's webhook secret and the application password) come from an
 * SSM Parameter Store SecureString on AWS, so they appear in neither the CloudFormation template nor
 * the function's configuration:
 *
 *   aws ssm put-parameter --type SecureString --name /mmlq-edge/prod/wordpress \
 *     --value '{"webhookSecret":"…","appPassword":"…"}'
 *
 * Locally (and where a team prefers it) they can be given as environment variables instead. The value
 * is cached for `ttlMs` so a rotated secret takes effect without a redeploy; a failed read is not
 * cached.
 */
import { ssmParameterReader } from '../clients/ssm.ts';
import { ConfigError, EdgeError } from '../common/errors.ts';
import { memoOne } from '../common/memo.ts';

export interface WordPressSecrets {
  webhookSecret: string;
  appPassword: string;
}

export type SecretsSource =
  | { parameter: string; region: string; endpoint?: string | undefined; timeoutMs: number }
  | { values: WordPressSecrets };

export function checkSecrets(value: unknown, where: string): WordPressSecrets {
  const v = value as Partial<WordPressSecrets> | null;
  if (!v || typeof v.webhookSecret !== 'string' || typeof v.appPassword !== 'string') {
    throw new ConfigError(`${where} must hold {"webhookSecret": "...", "appPassword": "..."}`);
  }
  if (v.webhookSecret.length < 32) {
    throw new ConfigError(`${where}: webhookSecret must be the plugin's secret (at least 32 characters)`);
  }
  return { webhookSecret: v.webhookSecret, appPassword: v.appPassword };
}

export function secretsLoader(source: SecretsSource, ttlMs = 5 * 60_000): () => Promise<WordPressSecrets> {
  if ('values' in source) {
    const values = checkSecrets(source.values, 'WP_WEBHOOK_SECRET / WP_APP_PASSWORD');
    return () => Promise.resolve(values);
  }
  const readParameter = ssmParameterReader(source);
  const read = async (): Promise<WordPressSecrets> => {
    let text: string | undefined;
    try {
      text = await readParameter(source.parameter);
    } catch (error) {
      throw new EdgeError(
        'STORAGE_FAILED',
        `Could not read the SSM parameter ${source.parameter} (${(error as Error).name})`,
        { cause: error },
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text ?? '');
    } catch {
      throw new ConfigError(`SSM parameter ${source.parameter} must be JSON`);
    }
    return checkSecrets(json, `SSM parameter ${source.parameter}`);
  };
  return memoOne(read, { ttlMs });
}
