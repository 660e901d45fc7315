/**
 * The local S3 Batch Operations stand-in's retry rules, through the real S3 Control client of the CLI,
 * with a function that answers as told (the real function runs in test/integration/bucket-backfill).
 */
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createJob,
  createS3ControlClient,
  describeJob,
  type JobProgress,
  readReport,
} from '#core/clients/batch-operations.ts';
import { BatchOperationsStandIn } from '#tools/local/batch-operations.ts';

const ACCOUNT = '000000000000';

/** Objects in memory; answers the S3 calls the stand-in and readReport make. */
function fakeS3(keys: string[]) {
  const objects = new Map<string, string>(keys.map((k) => [k, 'x']));
  return {
    objects,
    client: {
      async send(command: { constructor: { name: string }; input: Record<string, any> }) {
        const { input } = command;
        switch (command.constructor.name) {
          case 'ListObjectsCommand':
            return {
              Contents: [...objects.keys()]
                .filter((k) => k.startsWith(input['Prefix']))
                .map((Key) => ({ Key })),
              IsTruncated: false,
            };
          case 'PutObjectCommand':
            objects.set(input['Key'], String(input['Body']));
            return {};
          case 'GetObjectCommand': {
            const body = objects.get(input['Key']);
            if (body === undefined) throw Object.assign(new Error('no such key'), { name: 'NoSuchKey' });
            return { Body: { transformToString: async () => body } };
          }
          default:
            throw new Error(`unexpected ${command.constructor.name}`);
        }
      },
    } as unknown as S3Client,
  };
}

/** A function that answers each key with the next of its scripted answers. */
function scriptedFunction(script: Record<string, ('ok' | 'temp' | 'perm' | 'crash')[]>) {
  const calls: string[] = [];
  const client = {
    async send(command: { input: { Payload: string } }) {
      const event = JSON.parse(command.input.Payload);
      const task = event.tasks[0];
      calls.push(task.s3Key);
      const answer = script[task.s3Key]!.shift() ?? 'ok';
      if (answer === 'crash') {
        return { FunctionError: 'Unhandled', Payload: Buffer.from('{"errorMessage":"boom"}') };
      }
      const resultCode = { ok: 'Succeeded', temp: 'TemporaryFailure', perm: 'PermanentFailure' }[answer];
      const payload = {
        invocationSchemaVersion: '2.0',
        treatMissingKeysAs: 'PermanentFailure',
        invocationId: event.invocationId,
        results: [{ taskId: task.taskId, resultCode, resultString: `${answer} ${task.s3Key}` }],
      };
      return { Payload: Buffer.from(JSON.stringify(payload)) };
    },
  } as unknown as LambdaClient;
  return { client, calls };
}

let standIn: BatchOperationsStandIn | undefined;
afterEach(async () => {
  await standIn?.stop();
});

async function runJob(keys: string[], script: Record<string, ('ok' | 'temp' | 'perm' | 'crash')[]>) {
  const s3 = fakeS3(keys);
  const fn = scriptedFunction(script);
  standIn = new BatchOperationsStandIn({
    s3: s3.client,
    lambda: fn.client,
    concurrency: 2,
    attempts: 3,
    backoffMs: 1,
  });
  const endpoint = await standIn.start();
  const control = createS3ControlClient({
    region: 'us-east-1',
    endpoint,
    timeoutMs: 5000,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const jobId = await createJob(control, {
    accountId: ACCOUNT,
    functionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:backfill`,
    roleArn: 'arn:aws:iam::000000000000:role/r',
    source: { kind: 'prefix', bucket: 'media', prefix: 'uploads/', suffixes: ['.jpg'] },
    report: { bucket: 'media', prefix: 'backfill/reports' },
    priority: 1,
    description: 'test',
  });
  await standIn.settled(jobId);
  const progress: JobProgress = await describeJob(control, ACCOUNT, jobId);
  const report = await readReport(s3.client, progress.report!, jobId);
  return { progress, report, calls: fn.calls };
}

describe('the Batch Operations stand-in', () => {
  it('retries TemporaryFailure and failed invocations, fails a task after 3 attempts, never retries PermanentFailure', async () => {
    const { progress, report, calls } = await runJob(
      [
        'uploads/a.jpg',
        'uploads/b.jpg',
        'uploads/c.jpg',
        'uploads/d.jpg',
        'uploads/e.jpg',
        'uploads/notes.txt',
      ],
      {
        'uploads/a.jpg': ['ok'],
        'uploads/b.jpg': ['temp', 'crash', 'ok'],
        'uploads/c.jpg': ['temp', 'temp', 'temp'],
        'uploads/d.jpg': ['perm'],
        'uploads/e.jpg': ['crash', 'crash', 'crash'],
      },
    );
    expect(progress).toMatchObject({ status: 'Complete', total: 5, succeeded: 2, failed: 3, terminal: true });
    const count = (key: string) => calls.filter((c) => c === key).length;
    expect(['a', 'b', 'c', 'd', 'e'].map((k) => count(`uploads/${k}.jpg`))).toEqual([1, 3, 3, 1, 3]);
    const byKey = Object.fromEntries(report!.map((r) => [r.key, [r.status, r.errorCode, r.message]]));
    expect(byKey).toEqual({
      'uploads/a.jpg': ['succeeded', '', 'ok uploads/a.jpg'],
      'uploads/b.jpg': ['succeeded', '', 'ok uploads/b.jpg'],
      'uploads/c.jpg': ['failed', 'TemporaryFailure', 'temp uploads/c.jpg'],
      'uploads/d.jpg': ['failed', 'PermanentFailure', 'perm uploads/d.jpg'],
      'uploads/e.jpg': ['failed', 'LambdaFunctionError', '{"errorMessage":"boom"}'],
    });
  });
});
