/**
 * `osls package` offline (no AWS credentials, no network), exactly as a deploy would build it, and
 * assertions on the CloudFormation it generates: the S3 notification with its prefix, least-privilege
 * IAM, the async-invoke retries with the SQS dead-letter destination, and the scorer as an image function.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let out: string;
let template: any;
let resources: Record<string, any>;

function run(command: string, args: string[]) {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: 150_000, // a failed package run has been seen to hang: never wait forever
    env: {
      ...process.env,
      ONNXRUNTIME_NODE_INSTALL: 'skip',
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
    },
  });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`,
    );
  }
}

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

function statements(role: string): any[] {
  return resources[role].Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement);
}

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'mmlq-package-'));
  run(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'layers/build-functions.ts']);
  run(process.execPath, [
    'node_modules/osls/bin/serverless.js',
    'package',
    '--stage',
    'ci',
    '--package',
    out,
  ]);
  template = JSON.parse(await readFile(join(out, 'cloudformation-template-update-stack.json'), 'utf8'));
  resources = template.Resources;
});

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

describe('osls package', () => {
  it('sends ObjectCreated under the upload prefix from the media bucket to on-upload', () => {
    const [, bucket] = ofType('AWS::S3::Bucket').find(
      ([, b]) => b.Properties.BucketName === 'mmlq-edge-ci-media',
    )!;
    expect(bucket.Properties.NotificationConfiguration.LambdaConfigurations).toEqual([
      {
        Event: 's3:ObjectCreated:*',
        Function: { 'Fn::GetAtt': ['OnUploadLambdaFunction', 'Arn'] },
        Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: 'uploads/' }] } },
      },
    ]);
  });

  it('retries asynchronous deliveries twice, then sends them to the SQS dead-letter queue', () => {
    expect(resources['UploadDeadLetterQueue'].Type).toBe('AWS::SQS::Queue');
    const [[, config]] = ofType('AWS::Lambda::EventInvokeConfig') as [[string, any]];
    expect(config.Properties).toMatchObject({
      FunctionName: { Ref: 'OnUploadLambdaFunction' },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['UploadDeadLetterQueue', 'Arn'] } } },
    });
    expect(statements('OnUploadRole')).toContainEqual(
      expect.objectContaining({
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': ['UploadDeadLetterQueue', 'Arn'] },
      }),
    );
  });

  it('deploys the scorer as a container image referenced by digest', () => {
    const scorer = resources['ScorerLambdaFunction'].Properties;
    expect(scorer.PackageType).toBe('Image');
    expect(scorer.Code.ImageUri).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(scorer.Handler).toBeUndefined();
    expect(scorer.Environment.Variables).toMatchObject({
      MODEL: 'mmlq-mnv2-synth',
      MODELS_DIR: '/var/task/models',
    });
  });

  it('gives each function its own role, scoped to bucket prefixes and the scorer ARN, never Resource "*"', () => {
    expect(JSON.stringify(template)).not.toMatch(/"Resource":\s*"\*"/);
    expect(resources['OnUploadLambdaFunction'].Properties.Role).toEqual({
      'Fn::GetAtt': ['OnUploadRole', 'Arn'],
    });
    expect(resources['ScoreApiLambdaFunction'].Properties.Role).toEqual({
      'Fn::GetAtt': ['ScoreApiRole', 'Arn'],
    });
    expect(resources['ScorerLambdaFunction'].Properties.Role).toEqual({
      'Fn::GetAtt': ['ScorerRole', 'Arn'],
    });
    const bySid = (role: string) => Object.fromEntries(statements(role).map((s) => [s.Sid, s]));
    const upload = bySid('OnUploadRole');
    expect(upload['TagUploads'].Resource).toBe('arn:aws:s3:::mmlq-edge-ci-media/uploads/*');
    expect(upload['Results'].Resource).toBe('arn:aws:s3:::mmlq-edge-ci-media/results/*');
    expect(upload['InvokeScorer'].Action).toBe('lambda:InvokeFunction');
    expect(upload['InvokeScorer'].Resource['Fn::Sub']).toMatch(/:function:mmlq-edge-ci-scorer$/);
    expect(bySid('ScorerRole')['ReadImages'].Resource).toEqual([
      'arn:aws:s3:::mmlq-edge-ci-media/uploads/*',
      'arn:aws:s3:::mmlq-edge-ci-media/api-uploads/*',
    ]);
    expect(bySid('ScorerRole')['ReadImages'].Action).toEqual(['s3:GetObject', 's3:GetObjectVersion']);
    expect(bySid('ScoreApiRole')['StageUploads']).toMatchObject({
      Action: 's3:PutObject',
      Resource: 'arn:aws:s3:::mmlq-edge-ci-media/api-uploads/*',
    });
    for (const role of ['OnUploadRole', 'ScoreApiRole', 'ScorerRole']) {
      for (const s of statements(role)) {
        if (s.Action === 's3:ListBucket') expect(s.Condition.StringLike['s3:prefix']).toBeDefined();
      }
    }
  });

  it('routes the HTTP API to score-api and packs the edge functions without the native runtime', async () => {
    const routes = ofType('AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties.RouteKey)
      .sort();
    expect(routes).toEqual(['GET /v1/health', 'GET /v1/scores/{id}', 'POST /v1/scores']);
    expect(resources['ScoreApiLambdaFunction'].Properties.Handler).toBe(
      'dist/functions/score-api/handler.handler',
    );
    const bundle = await readFile('dist/functions/on-upload/handler.mjs', 'utf8');
    expect(bundle).not.toMatch(/from ["']onnxruntime-node["']|from ["']sharp["']/);
  });
});
