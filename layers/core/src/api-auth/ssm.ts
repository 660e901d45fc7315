/** Reads an SSM parameter, decrypted (a SecureString), for keysLoader. */
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';

export function ssmParameterReader(
  region: string,
  endpoint?: string,
): (name: string) => Promise<string | undefined> {
  const client = new SSMClient({ region, ...(endpoint ? { endpoint } : {}) });
  return async (name) =>
    (await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }))).Parameter?.Value;
}
