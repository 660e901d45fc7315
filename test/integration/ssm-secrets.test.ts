/**
 * wp-webhook's secrets from SSM Parameter Store, through the real @aws-sdk/client-ssm against a local
 * stand-in of the SSM JSON API (GetParameter only: there is no local SSM server to install). Checks the
 * request the SDK makes (decryption asked for), the parsing, the cache and that a failure is not cached.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeError } from '#core/common/errors.ts';
import { secretsLoader } from '#core/wp-webhook/secrets.ts';

const NAME = '/mmlq-edge/test/wordpress';
let server: Server;
let endpoint: string;
let value: string | undefined;
const requests: { target: string | undefined; body: any }[] = [];

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

beforeAll(async () => {
  process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
  process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';
  server = createServer(async (req, res) => {
    const body = JSON.parse(await readBody(req));
    requests.push({ target: req.headers['x-amz-target'] as string | undefined, body });
    res.setHeader('content-type', 'application/x-amz-json-1.1');
    if (value === undefined || body.Name !== NAME) {
      res.writeHead(400).end(JSON.stringify({ __type: 'ParameterNotFound', message: 'not found' }));
      return;
    }
    res
      .writeHead(200)
      .end(JSON.stringify({ Parameter: { Name: NAME, Type: 'SecureString', Value: value, Version: 1 } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => new Promise((r) => server.close(r)));

describe('WordPress secrets from an SSM SecureString', () => {
  it('reads the JSON with decryption, caches it, and does not cache a failure', async () => {
    const secrets = secretsLoader(
      { parameter: NAME, region: 'us-east-1', endpoint, timeoutMs: 3000 },
      60_000,
    );
    value = undefined;
    const missing = await secrets().catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(EdgeError);
    expect((missing as EdgeError).message).toBe(
      `Could not read the SSM parameter ${NAME} (ParameterNotFound)`,
    );

    value = JSON.stringify({ webhookSecret: 's'.repeat(40), appPassword: 'abcd efgh' });
    expect(await secrets()).toEqual({ webhookSecret: 's'.repeat(40), appPassword: 'abcd efgh' });
    value = JSON.stringify({ webhookSecret: 't'.repeat(40), appPassword: 'rotated' });
    expect((await secrets()).appPassword).toBe('abcd efgh'); // cached for the TTL
    expect(requests.map((r) => [r.target, r.body.Name, r.body.WithDecryption])).toEqual([
      ['AmazonSSM.GetParameter', NAME, true],
      ['AmazonSSM.GetParameter', NAME, true],
    ]);

    const expired = secretsLoader({ parameter: NAME, region: 'us-east-1', endpoint, timeoutMs: 3000 }, 0);
    await expired();
    await new Promise((r) => setTimeout(r, 5));
    expect((await expired()).appPassword).toBe('rotated');
  });

  it('says what the parameter must hold', async () => {
    value = '{"webhookSecret":"short","appPassword":"x"}';
    const secrets = secretsLoader({ parameter: NAME, region: 'us-east-1', endpoint, timeoutMs: 3000 });
    await expect(secrets()).rejects.toThrow(
      `SSM parameter ${NAME}: webhookSecret must be the plugin's secret (at least 32 characters)`,
    );
    value = 'not json';
    await expect(
      secretsLoader({ parameter: NAME, region: 'us-east-1', endpoint, timeoutMs: 3000 })(),
    ).rejects.toThrow(`SSM parameter ${NAME} must be JSON`);
  });
});
