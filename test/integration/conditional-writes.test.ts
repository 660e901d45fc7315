/**
 * Deliveries of one S3 event that run at once, against an S3 that honours conditional writes: the
 * functions of the local stack (serverless-offline: on-upload, the scorer) talk to moto's server here
 * instead of s3rver, which ignores If-None-Match / If-Match. on-upload writes the result document only
 * over what its duplicate check saw (results/store.ts put), so whatever the interleaving, one delivery
 * commits the result and every other answers `duplicate`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, stripQuotes } from '#core/clients/s3.ts';
import { encodeEventKey } from '#core/clients/s3-event.ts';
import { scoreTag, TAGS } from '#core/results/store.ts';
import { type Stack, startStack } from '#tools/local/stack.ts';
import { patternJpeg } from '../helpers/images.ts';
import { MOTO_CREDENTIALS, type Moto, startMoto } from '../helpers/moto.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';

const BUCKET = 'mmlq-conditional';
const DELIVERIES = 4;

let dir: string;
let moto: Moto;
let stack: Stack;
let s3: S3Client;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mmlq-conditional-'));
  await writeTinyModel(join(dir, 'models'), { name: 'tiny' });
  moto = await startMoto();
  stack = await startStack({
    root: process.cwd(),
    dataDir: join(dir, 's3rver'),
    deadLetterDir: join(dir, 'dead-letter'),
    bucket: BUCKET,
    s3ClientEndpoint: moto.url, // the functions' S3 (the stack creates the bucket there)
    model: 'tiny',
    modelsDir: join(dir, 'models'),
    concurrency: DELIVERIES,
  });
  s3 = createS3Client(
    { region: 'us-east-1', endpoint: moto.url, forcePathStyle: true, timeoutMs: 10_000 },
    MOTO_CREDENTIALS,
  );
  // Every write of the result stays as a version: the count of versions is the count of writes.
  await s3.send(
    new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }),
  );
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  s3?.destroy();
  await moto?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function deliver(key: string, etag: string, versionId: string | undefined): Promise<string[]> {
  const event = JSON.parse(await readFile('test/events/s3-put.json', 'utf8'));
  const object = event.Records[0].s3.object;
  event.Records[0].s3.bucket.name = BUCKET;
  object.key = encodeEventKey(key);
  object.eTag = etag;
  if (versionId) object.versionId = versionId;
  const answers = await Promise.all(
    Array.from({ length: DELIVERIES }, async () => {
      const out = await stack.lambda.send(
        new InvokeCommand({ FunctionName: stack.functionName('on-upload'), Payload: JSON.stringify(event) }),
      );
      const payload = JSON.parse(Buffer.from(out.Payload!).toString('utf8'));
      expect(out.FunctionError, JSON.stringify(payload)).toBeUndefined();
      return payload.records?.[0]?.status as string;
    }),
  );
  return answers.sort();
}

describe('the same event delivered 4 times at once, on an S3 with conditional writes (moto)', () => {
  it('one delivery writes the result, the other three answer duplicate; tags agree with it', {
    timeout: 120_000,
  }, async () => {
    const key = 'uploads/race/img.jpg';
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key,
        Body: await patternJpeg(72, 40),
        ContentType: 'image/jpeg',
      }),
    );
    const statuses = await deliver(key, stripQuotes(put.ETag), put.VersionId);
    const versions = await s3.send(
      new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: `results/${key}.json` }),
    );
    console.log(`statuses ${statuses.join(', ')}; result versions ${versions.Versions?.length ?? 0}`);
    expect(versions.Versions?.length).toBe(1);
    expect(statuses.filter((s) => s === 'scored')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(DELIVERIES - 1);
    const result = JSON.parse(
      await (
        await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `results/${key}.json` }))
      ).Body!.transformToString(),
    );
    expect(result).toMatchObject({ ok: true, source: { bucket: BUCKET, key } });
    const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }));
    const tag = Object.fromEntries((tags.TagSet ?? []).map((t) => [t.Key, t.Value]));
    expect(tag[TAGS.score]).toBe(scoreTag(result.result.score));
    // A later delivery of the same event writes nothing: every one answers duplicate.
    expect(await deliver(key, stripQuotes(put.ETag), put.VersionId)).toEqual(
      Array(DELIVERIES).fill('duplicate'),
    );
    const after = await s3.send(
      new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: `results/${key}.json` }),
    );
    expect(after.Versions?.length).toBe(1);
  });
});
