/**
 * `npm run redrive`: while `npm start` runs (same environment: MMLQ_* ports, bucket, data dir), sends
 * every dead-lettered on-upload event again through an S3 event bridge to the running stack's Lambda
 * endpoint, and moves each delivered record to redriven/ with a timestamp (S3 records under
 * dead-letter/on-upload/redriven/, local ones under <MMLQ_DATA_DIR>/dead-letter/redriven/). Records whose
 * re-delivery fails stay where they are. Exit 0 when all were re-driven, 1 when some failed, 2 when the
 * stack is not running.
 */
import { join, resolve } from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { createS3Client, ObjectStore } from '#core/clients/s3.ts';
import { redrive } from './dead-letter.ts';
import { portFree, readLocalConfig } from './options.ts';
import { S3EventBridge } from './s3-bridge.ts';
import { lambdaInvoker } from './stack.ts';

const root = resolve(import.meta.dirname, '../..');
const config = readLocalConfig(process.env, root);
if ((await portFree(config.s3Port)) || (await portFree(config.lambdaPort))) {
  console.error(
    `error: no local stack on ports ${config.s3Port} (MMLQ_S3_PORT) and ${config.lambdaPort} (MMLQ_LAMBDA_PORT); ` +
      'start it first (npm start) with the same environment',
  );
  process.exit(2);
}
const s3 = createS3Client(
  {
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${config.s3Port}`,
    forcePathStyle: true,
    timeoutMs: 10_000,
  },
  { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
);
const lambda = new LambdaClient({
  region: 'us-east-1',
  endpoint: `http://127.0.0.1:${config.lambdaPort}`,
  maxAttempts: 1,
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
const log = (line: string) => console.log(`[redrive] ${line}`);
const bridge = new S3EventBridge({
  functionName: 'mmlq-edge-local-on-upload',
  prefix: 'uploads/',
  retries: 2,
  backoffMs: 1000,
  concurrency: config.concurrency,
  invoke: lambdaInvoker(lambda),
  deadLetter: async () => {},
  log,
});
const report = await redrive(
  {
    objects: new ObjectStore(s3),
    bucket: config.bucket,
    prefix: 'dead-letter/on-upload/',
    dir: join(config.dataDir, 'dead-letter'),
  },
  bridge,
  log,
);
log(`${report.redriven.length} re-driven, ${report.failed.length} failed again`);
s3.destroy();
lambda.destroy();
process.exitCode = report.failed.length ? 1 : 0;
