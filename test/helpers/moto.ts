/**
 * A local S3 that honours conditional writes, for the tests that need them: moto's server (Python,
 * `moto[server]` ≥ 5.1). s3rver, the local stack's S3, ignores If-None-Match and If-Match on PUT.
 *
 * Found by ./moto-server.ts (`bash .ci/moto-deps.sh`, which `npm test` runs, installs it when none is).
 * Before a test relies on it, it is checked to refuse a second If-None-Match: * PUT of a key with 412.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '#core/clients/s3.ts';
import { freePort } from '#tools/local/stack.ts';
import { findMotoServer } from './moto-server.ts';
import { eventually } from './poll.ts';

export interface Moto {
  url: string;
  stop(): Promise<void>;
}

export const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export async function startMoto(): Promise<Moto> {
  const bin = findMotoServer();
  const port = await freePort();
  let output = '';
  const child: ChildProcess = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const s of [child.stdout!, child.stderr!]) s.on('data', (c: Buffer) => (output += c));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  try {
    await eventually(
      `moto server (${bin}) at ${url}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${output.slice(-2000)}`);
        return (await fetch(url).catch(() => undefined))?.ok ? true : undefined;
      },
      30_000,
      200,
    );
    await expectConditionalWrites(url);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop };
}

/** Fails unless this S3 refuses a second If-None-Match: * PUT of one key (moto before 5.0.14 did not). */
async function expectConditionalWrites(url: string): Promise<void> {
  const s3 = createS3Client(
    { region: 'us-east-1', endpoint: url, forcePathStyle: true, timeoutMs: 10_000 },
    MOTO_CREDENTIALS,
  );
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'moto-self-check' }));
    const put = () =>
      s3.send(new PutObjectCommand({ Bucket: 'moto-self-check', Key: 'k', Body: 'x', IfNoneMatch: '*' }));
    await put();
    const second = await put().then(
      () => 200,
      (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode,
    );
    if (second !== 412) {
      throw new Error(
        `The moto server answered ${second} to a second If-None-Match: * PUT of one key (S3 answers 412): too old; install moto[server] >= 5.1`,
      );
    }
  } finally {
    s3.destroy();
  }
}
