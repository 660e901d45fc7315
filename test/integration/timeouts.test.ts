/**
 * Every call to a dependency has a timeout: S3, Lambda Invoke, the HTTP scorer, SSM and the WordPress
 * REST API, each against a local server that accepts the connection and never answers (or sends the
 * headers and stalls the body). Each call must fail with its typed error instead of holding the function
 * until its Lambda timeout. The test's own timeout is the outer bound; no elapsed time is asserted.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readS3 } from '#core/clients/config.ts';
import { createS3Client, ObjectStore } from '#core/clients/s3.ts';
import { HttpScorerClient, LambdaScorerClient } from '#core/clients/scorer-client.ts';
import { ssmParameterReader } from '#core/clients/ssm.ts';
import { WordPressSite } from '#core/clients/wordpress.ts';
import { secretsLoader } from '#core/wp-webhook/secrets.ts';

/** A TCP server that never answers; `stallBody` sends a 200 with a long body, then nothing more. */
async function hangingServer(stallBody = false): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    if (stallBody) {
      socket.once('data', () =>
        socket.write(
          'HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\nETag: "x"\r\n\r\nabc',
        ),
      );
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

let hang: Awaited<ReturnType<typeof hangingServer>>;
let stall: Awaited<ReturnType<typeof hangingServer>>;

beforeAll(async () => {
  hang = await hangingServer();
  stall = await hangingServer(true);
});
afterAll(async () => {
  await hang.close();
  await stall.close();
});

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const s3Config = (endpoint: string) =>
  readS3({ S3_ENDPOINT: endpoint, S3_TIMEOUT_MS: '300', AWS_REGION: 'us-east-1' });

describe('timeouts against a server that hangs', () => {
  it('S3 reads, writes and tags fail with STORAGE_FAILED', { timeout: 15_000 }, async () => {
    const store = new ObjectStore(createS3Client(s3Config(hang.url), credentials));
    const ref = { bucket: 'b', key: 'uploads/a.jpg' };
    await expect(store.head(ref)).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    await expect(store.putJson(ref, {})).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    await expect(store.getImage(ref, 1_000_000)).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    await expect(store.mergeTags(ref, { a: 'b' }, 'aesthetic-')).rejects.toMatchObject({
      code: 'STORAGE_FAILED',
    });
  });

  it('an S3 body that stalls after the headers fails with STORAGE_FAILED', { timeout: 15_000 }, async () => {
    const store = new ObjectStore(createS3Client(s3Config(stall.url), credentials));
    await expect(store.getImage({ bucket: 'b', key: 'uploads/a.jpg' }, 1_000_000)).rejects.toMatchObject({
      code: 'STORAGE_FAILED',
    });
  });

  const scorerConfig = (extra: { url?: string; lambdaEndpoint?: string }) => ({
    functionName: 'scorer',
    lambdaEndpoint: undefined,
    url: undefined,
    maxAttempts: 2,
    backoffMs: 10,
    timeoutMs: 300,
    ...extra,
  });

  it('Lambda Invoke of the scorer fails with SCORER_UNAVAILABLE after its attempts', {
    timeout: 15_000,
  }, async () => {
    process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
    process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';
    const retries: string[] = [];
    const client = new LambdaScorerClient(scorerConfig({ lambdaEndpoint: hang.url }), 'us-east-1', (_, r) =>
      retries.push(r),
    );
    const failure = client.score({ items: [] });
    await expect(failure).rejects.toMatchObject({ code: 'SCORER_UNAVAILABLE' });
    await expect(failure).rejects.toThrow(
      'The scorer (scorer) failed 2 attempts; last: no answer within 300 ms',
    );
    expect(retries).toHaveLength(1);
  });

  it('the HTTP scorer fails with SCORER_UNAVAILABLE after its attempts', { timeout: 15_000 }, async () => {
    const client = new HttpScorerClient(scorerConfig({ url: hang.url }));
    const failure = client.score({ items: [] });
    await expect(failure).rejects.toMatchObject({ code: 'SCORER_UNAVAILABLE' });
    await expect(failure).rejects.toThrow(/failed 2 attempts; last: no answer within 300 ms$/);
  });

  it("scorer attempts are cut to the caller's deadline, and none starts without time for it", {
    timeout: 15_000,
  }, async () => {
    const retries: string[] = [];
    const client = new HttpScorerClient(
      { ...scorerConfig({ url: hang.url }), maxAttempts: 5, timeoutMs: 60_000, backoffMs: 10 },
      (_, r) => retries.push(r),
    );
    const deadline = Date.now() + 2_500;
    const failure = client.score({ items: [] }, { deadline });
    await expect(failure).rejects.toMatchObject({ code: 'SCORER_UNAVAILABLE' });
    await expect(failure).rejects.toThrow(/no time left for attempt \d before the caller's deadline$/);
    // It settled by the deadline (plus scheduling slack), not after a 60 s attempt.
    expect(Date.now()).toBeLessThan(deadline + 1_000);
    expect(retries.length).toBeGreaterThanOrEqual(1);
  });

  it('the SSM parameter read fails with STORAGE_FAILED', { timeout: 15_000 }, async () => {
    process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
    process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';
    const load = secretsLoader({
      parameter: '/mmlq/wp',
      region: 'us-east-1',
      endpoint: hang.url,
      timeoutMs: 300,
    });
    await expect(load()).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    await expect(load()).rejects.toThrow(/timed out after 300 ms|Timeout/i);
  });

  it("the authorizer's key-list read fails instead of hanging", { timeout: 15_000 }, async () => {
    process.env['AWS_ACCESS_KEY_ID'] ??= 'test';
    process.env['AWS_SECRET_ACCESS_KEY'] ??= 'test';
    const read = ssmParameterReader({ region: 'us-east-1', endpoint: hang.url, timeoutMs: 300 });
    await expect(read('/mmlq-edge/ci/api-keys')).rejects.toThrow(/Timeout|timed out|aborted/i);
  });

  it('WordPress REST calls fail with WORDPRESS_FAILED', { timeout: 15_000 }, async () => {
    const site = new WordPressSite({ siteUrl: `${hang.url}/`, user: 'u', appPassword: 'p', timeoutMs: 300 });
    await expect(site.storedKey(1)).rejects.toMatchObject({ code: 'WORDPRESS_FAILED' });
    await expect(site.tierTermId('top')).rejects.toThrow(/did not answer within 300 ms/);
  });
});
