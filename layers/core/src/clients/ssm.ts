/**
 * Reads SSM parameters (SecureStrings decrypted) for the secrets the functions load once per warm
 * container: wp-webhook's webhook secret and application password, the authorizer's key list. Every
 * request fails after `timeoutMs` (two attempts), like every other AWS call of the project.
 */
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { requestHandler } from './aws.ts';

export interface SsmOptions {
  region: string;
  /** Custom endpoint (tests); undefined on AWS. */
  endpoint?: string | undefined;
  timeoutMs: number;
}

/** A reader of parameter values (undefined when the parameter has no value); AWS errors are thrown as they are. */
export function ssmParameterReader(options: SsmOptions): (name: string) => Promise<string | undefined> {
  const client = new SSMClient({
    region: options.region,
    maxAttempts: 2,
    requestHandler: requestHandler(options.timeoutMs),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  });
  return async (name) =>
    (await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }))).Parameter?.Value;
}
