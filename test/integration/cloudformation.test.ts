/**
 * `osls package` offline (no AWS credentials, no network), exactly as a deploy would build it, and
 * assertions on the CloudFormation it generates: the S3 notification with its prefix and the bucket's
 * lifecycle, least-privilege IAM, the async-invoke retries with the SQS dead-letter destination, the scorer
 * as an image function, and the HTTP API closed by default (API-key authorizer, stage throttling,
 * reserved concurrency).
 * A second package with edgeVpc=attach checks the edge functions' VPC configuration and the network
 * interface permissions that come with it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_ATTEMPT_MS } from '#core/clients/scorer-client.ts';
import { readUploadConfig } from '#core/on-upload/config.ts';
import { readApiConfig } from '#core/score-api/config.ts';
import { readWordPressConfig } from '#core/wp-webhook/config.ts';
import { evaluate as evaluateIntrinsics, runChecked } from '../helpers/cloudformation.ts';

const outs: string[] = [];
let template: any;
let resources: Record<string, any>;

/** `osls package --stage ci` with the given `--param`s into a temporary folder; the template. */
async function packageService(params: string[] = []): Promise<any> {
  const out = await mkdtemp(join(tmpdir(), 'mmlq-package-'));
  outs.push(out);
  runChecked(process.execPath, [
    'node_modules/osls/bin/serverless.js',
    'package',
    '--stage',
    'ci',
    '--package',
    out,
    ...params.map((p) => `--param=${p}`),
  ]);
  return JSON.parse(await readFile(join(out, 'cloudformation-template-update-stack.json'), 'utf8'));
}

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

function statements(role: string): any[] {
  return resources[role].Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement);
}

/** Every IAM statement of a template (role inline policies, managed and standalone policies), by resource. */
function iamStatements(all: Record<string, any>): [string, any][] {
  return Object.entries(all).flatMap(([id, r]): [string, any][] => {
    const documents =
      r.Type === 'AWS::IAM::Role'
        ? (r.Properties.Policies ?? []).map((p: any) => p.PolicyDocument)
        : r.Type === 'AWS::IAM::ManagedPolicy' || r.Type === 'AWS::IAM::Policy'
          ? [r.Properties.PolicyDocument]
          : [];
    return documents.flatMap((d: any) => d.Statement.map((s: any): [string, any] => [id, s]));
  });
}

const asList = (value: any): any[] => (Array.isArray(value) ? value : [value]);

/** Evaluates the intrinsic functions the templates compute strings and lists with (Sub, Join, Split). */
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'us-east-1',
  'AWS::AccountId': '123456789012',
};
const evaluate = (node: any) => evaluateIntrinsics(node, PSEUDO);

beforeAll(async () => {
  runChecked(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'tools/build-functions.ts']);
  template = await packageService();
  resources = template.Resources;
});

afterAll(async () => {
  await Promise.all(outs.map((out) => rm(out, { recursive: true, force: true })));
});

describe('osls package', () => {
  it('nests the timeouts: each function answers with its own typed error before anything above it gives up', async () => {
    const fn = (id: string) => resources[id].Properties;
    const envOf = (id: string) =>
      Object.fromEntries(
        Object.entries(fn(id).Environment.Variables as Record<string, unknown>).map(([k, v]) => [
          k,
          String(v),
        ]),
      );
    // API Gateway HTTP API gives an integration at most 30 s: the functions behind it must end first.
    for (const id of ['ScoreApiLambdaFunction', 'WpWebhookLambdaFunction'])
      expect(fn(id).Timeout).toBeLessThan(30);
    // Each edge function keeps DEADLINE_RESERVE_MS of its own timeout for its writes and its answer, and
    // still leaves room for at least one scorer attempt (scorer-client.ts cuts attempts to the deadline).
    const configs = {
      ScoreApiLambdaFunction: readApiConfig({
        ...envOf('ScoreApiLambdaFunction'),
        SCORER_FUNCTION_NAME: 's',
      }),
      OnUploadLambdaFunction: readUploadConfig({
        ...envOf('OnUploadLambdaFunction'),
        SCORER_FUNCTION_NAME: 's',
      }),
      WpWebhookLambdaFunction: readWordPressConfig({
        ...envOf('WpWebhookLambdaFunction'),
        SCORER_FUNCTION_NAME: 's',
        WP_SITE_URL: 'https://example.com/',
        WP_USER: 'u',
      }),
    };
    for (const [id, config] of Object.entries(configs)) {
      expect(config.reserveMs + MIN_ATTEMPT_MS, id).toBeLessThan(fn(id).Timeout * 1000);
    }
    // wp-webhook answers within WP_ANSWER_WITHIN_MS, below the plugin's default wait.
    const settings = await readFile('plugins/wordpress/mmlq-edge/includes/settings.php', 'utf8');
    const pluginTimeoutS = Number(/'timeout'\s*=>\s*(\d+),/.exec(settings)?.[1]);
    expect(pluginTimeoutS).toBeGreaterThan(0);
    expect(configs.WpWebhookLambdaFunction.wordpress.answerWithinMs).toBeLessThan(pluginTimeoutS * 1000);
    // on-upload is invoked asynchronously: its timeout must outlast one full scorer call of the scorer
    // function's own timeout, so a cold scorer is waited for rather than retried from scratch.
    expect(fn('OnUploadLambdaFunction').Timeout).toBeGreaterThan(fn('ScorerLambdaFunction').Timeout);
  });

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
    // score-api reads and writes its own results only, never on-upload's results/.
    expect(Object.keys(bySid('ScoreApiRole')).sort()).toEqual([
      'InvokeScorer',
      'Logs',
      'NotFoundNotForbidden',
      'Results',
      'StageUploads',
    ]);
    expect(bySid('ScoreApiRole')['Results']).toMatchObject({
      Action: ['s3:GetObject', 's3:PutObject'],
      Resource: 'arn:aws:s3:::mmlq-edge-ci-media/api-results/*',
    });
    expect(bySid('ScoreApiRole')['NotFoundNotForbidden'].Condition.StringLike['s3:prefix']).toBe(
      'api-results/*',
    );
    expect(JSON.stringify(statements('ScoreApiRole'))).not.toContain('/results/');
    for (const role of ['OnUploadRole', 'ScoreApiRole', 'ScorerRole']) {
      for (const s of statements(role)) {
        if (s.Action === 's3:ListBucket') expect(s.Condition.StringLike['s3:prefix']).toBeDefined();
      }
    }
  });

  it('lets S3 Batch Operations invoke only the backfill function, read and write only backfill/ (issue 11)', () => {
    const fn = resources['BackfillLambdaFunction'].Properties;
    expect(fn.Handler).toBe('dist/functions/on-upload/handler.backfill');
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['BackfillRole', 'Arn'] });
    // Its reserved concurrency is the backfill's rate limit, below the scorer's.
    expect(fn.ReservedConcurrentExecutions).toBe(6);
    expect(fn.ReservedConcurrentExecutions).toBeLessThan(
      resources['ScorerLambdaFunction'].Properties.ReservedConcurrentExecutions,
    );
    expect(fn.Environment.Variables).toMatchObject({
      UPLOAD_PREFIX: 'uploads/',
      SCORER_FUNCTION_NAME: 'mmlq-edge-ci-scorer',
    });
    // Invoked synchronously by Batch Operations: no async retries or destination of its own.
    const asyncConfigs = ofType('AWS::Lambda::EventInvokeConfig').map(([, r]) =>
      JSON.stringify(r.Properties.FunctionName),
    );
    expect(asyncConfigs.filter((f) => f.includes('Backfill'))).toEqual([]);

    const role = resources['BatchOperationsRole'].Properties;
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'batchoperations.s3.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
    ]);
    const ops = Object.fromEntries(statements('BatchOperationsRole').map((st) => [st.Sid, st]));
    expect(Object.keys(ops).sort()).toEqual([
      'InvokeBackfill',
      'ListBucket',
      'ReadManifests',
      'WriteManifestsAndReports',
    ]);
    expect(ops['InvokeBackfill'].Action).toBe('lambda:InvokeFunction');
    expect(asList(ops['InvokeBackfill'].Resource).map(evaluate)).toEqual([
      'arn:aws:lambda:us-east-1:123456789012:function:mmlq-edge-ci-backfill',
      'arn:aws:lambda:us-east-1:123456789012:function:mmlq-edge-ci-backfill:*',
    ]);
    expect(ops['ListBucket']).toMatchObject({
      Action: 's3:ListBucket',
      Resource: 'arn:aws:s3:::mmlq-edge-ci-media',
    });
    expect(ops['ReadManifests']).toMatchObject({
      Action: ['s3:GetObject', 's3:GetObjectVersion'],
      Resource: 'arn:aws:s3:::mmlq-edge-ci-media/backfill/*',
    });
    expect(ops['WriteManifestsAndReports']).toMatchObject({
      Action: 's3:PutObject',
      Resource: 'arn:aws:s3:::mmlq-edge-ci-media/backfill/*',
    });

    const backfill = Object.fromEntries(statements('BackfillRole').map((st) => [st.Sid, st]));
    expect(Object.keys(backfill).sort()).toEqual([
      'InvokeScorer',
      'Logs',
      'NotFoundNotForbidden',
      'ReadAndTagUploads',
      'Results',
    ]);
    expect(backfill['ReadAndTagUploads'].Resource).toBe('arn:aws:s3:::mmlq-edge-ci-media/uploads/*');
    expect(backfill['Results'].Resource).toBe('arn:aws:s3:::mmlq-edge-ci-media/results/*');
    expect(backfill['NotFoundNotForbidden'].Condition.StringLike['s3:prefix']).toEqual([
      'uploads/*',
      'results/*',
    ]);
    expect(evaluate(backfill['InvokeScorer'].Resource)).toBe(
      'arn:aws:lambda:us-east-1:123456789012:function:mmlq-edge-ci-scorer',
    );
    expect(template.Outputs).toMatchObject({
      BackfillFunctionArn: { Value: { 'Fn::GetAtt': ['BackfillLambdaFunction', 'Arn'] } },
      BatchOperationsRoleArn: { Value: { 'Fn::GetAtt': ['BatchOperationsRole', 'Arn'] } },
    });
  });

  it('runs library-tiers on its schedule, alone, with a role that can only list and read results, write them, list and tag uploads', () => {
    const fn = resources['LibraryTiersLambdaFunction'].Properties;
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['LibraryTiersRole', 'Arn'] });
    expect(fn.Handler).toBe('dist/functions/library-tiers/handler.handler');
    expect(fn.ReservedConcurrentExecutions).toBe(1);
    expect(fn.VpcConfig).toBeUndefined();
    expect(fn.Environment.Variables).toMatchObject({
      BUCKET: 'mmlq-edge-ci-media',
      UPLOAD_PREFIX: 'uploads/',
      LIBRARY_TIERS: '10,35,75',
      LIBRARY_DEPTH: '0',
    });
    const [, rule] = ofType('AWS::Events::Rule').find(([, r]) =>
      JSON.stringify(r.Properties.Targets).includes('LibraryTiersLambdaFunction'),
    )!;
    expect(rule.Properties.ScheduleExpression).toBe('rate(15 minutes)');
    const bySid = Object.fromEntries(statements('LibraryTiersRole').map((st) => [st.Sid, st]));
    expect(Object.keys(bySid).sort()).toEqual(['ListResultsAndUploads', 'Logs', 'Results', 'TagUploads']);
    expect(bySid['TagUploads'].Resource).toBe('arn:aws:s3:::mmlq-edge-ci-media/uploads/*');
    expect(bySid['Results']).toMatchObject({
      Action: ['s3:GetObject', 's3:PutObject'],
      Resource: 'arn:aws:s3:::mmlq-edge-ci-media/results/*',
    });
    // The uploads are listed (never read): an image deleted since it was scored leaves the ranking.
    expect(bySid['ListResultsAndUploads'].Condition.StringLike['s3:prefix']).toEqual([
      'results/*',
      'uploads/*',
    ]);
    // on-upload and the backfill place new images against the same settings.
    for (const name of ['OnUploadLambdaFunction', 'BackfillLambdaFunction']) {
      expect(resources[name].Properties.Environment.Variables).toMatchObject({
        LIBRARY_TIERS: '10,35,75',
        LIBRARY_DEPTH: '0',
        CROP_ASPECTS: '',
      });
    }
  });

  it('gives wp-webhook its route, its own role (invoke the scorer, read one SSM parameter) and no secrets', () => {
    const fn = resources['WpWebhookLambdaFunction'].Properties;
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['WpWebhookRole', 'Arn'] });
    expect(fn.Handler).toBe('dist/functions/wp-webhook/handler.handler');
    expect(fn.Environment.Variables).toMatchObject({
      WP_SECRETS_PARAMETER: '/mmlq-edge/ci/wordpress',
      WP_WEBHOOK_SECRET: '',
      WP_APP_PASSWORD: '',
    });
    const bySid = Object.fromEntries(statements('WpWebhookRole').map((s) => [s.Sid, s]));
    expect(Object.keys(bySid).sort()).toEqual(['InvokeScorer', 'Logs', 'ReadWordPressSecrets']);
    expect(bySid['ReadWordPressSecrets']).toMatchObject({ Action: 'ssm:GetParameter' });
    expect(evaluate(bySid['ReadWordPressSecrets'].Resource)).toBe(
      'arn:aws:ssm:us-east-1:123456789012:parameter/mmlq-edge/ci/wordpress',
    );
    expect(evaluate(bySid['InvokeScorer'].Resource)).toBe(
      'arn:aws:lambda:us-east-1:123456789012:function:mmlq-edge-ci-scorer',
    );
  });

  it('routes the HTTP API to score-api and packs the edge functions without the native runtime', async () => {
    const routes = ofType('AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties.RouteKey)
      .sort();
    expect(routes).toEqual([
      'GET /v1/health',
      'GET /v1/scores/{id}',
      'POST /v1/scores',
      'POST /v1/uploads',
      'POST /v1/wordpress/webhook',
    ]);
    expect(resources['ScoreApiLambdaFunction'].Properties.Handler).toBe(
      'dist/functions/score-api/handler.handler',
    );
    for (const edge of ['on-upload', 'score-api', 'wp-webhook']) {
      const bundle = await readFile(`dist/functions/${edge}/handler.mjs`, 'utf8');
      expect(bundle, edge).not.toMatch(/from ["']onnxruntime-node["']|from ["']sharp["']/);
    }
  });

  it('keeps every function out of any VPC by default, with no EC2 permissions', () => {
    for (const [id, fn] of ofType('AWS::Lambda::Function')) {
      expect(fn.Properties.VpcConfig, id).toBeUndefined();
    }
    expect(ofType('AWS::IAM::ManagedPolicy')).toEqual([]);
    for (const role of [
      'OnUploadRole',
      'ScoreApiRole',
      'ScorerRole',
      'WpWebhookRole',
      'ApiAuthorizerRole',
      'BackfillRole',
      'BatchOperationsRole',
    ]) {
      expect(resources[role].Properties.ManagedPolicyArns).toBeUndefined();
    }
    const actions = iamStatements(resources).flatMap(([, s]) => asList(s.Action));
    expect(actions.filter((a) => a.startsWith('ec2:'))).toEqual([]);
  });
});

describe('osls package --param="edgeVpc=attach" (the GPU scorer behind an internal ALB)', () => {
  const EDGE_ROLES = ['BackfillRole', 'OnUploadRole', 'ScoreApiRole', 'WpWebhookRole'];
  const ENI_ACTIONS = [
    'ec2:AssignPrivateIpAddresses',
    'ec2:CreateNetworkInterface',
    'ec2:DeleteNetworkInterface',
    'ec2:DescribeNetworkInterfaces',
    'ec2:DescribeSubnets',
    'ec2:UnassignPrivateIpAddresses',
  ];
  let vpcResources: Record<string, any>;
  let vpcTemplate: any;

  beforeAll(async () => {
    vpcTemplate = await packageService([
      'edgeVpc=attach',
      'edgeSubnetIds=subnet-aaa,subnet-bbb',
      'edgeSecurityGroupIds=sg-123',
    ]);
    vpcResources = vpcTemplate.Resources;
  });

  it('puts the edge functions in the given subnets with the given security group, not the scorer', () => {
    for (const fn of [
      'ScoreApiLambdaFunction',
      'OnUploadLambdaFunction',
      'WpWebhookLambdaFunction',
      'BackfillLambdaFunction',
    ]) {
      const vpc = vpcResources[fn].Properties.VpcConfig;
      expect(evaluate(vpc.SubnetIds), fn).toEqual(['subnet-aaa', 'subnet-bbb']);
      expect(evaluate(vpc.SecurityGroupIds), fn).toEqual(['sg-123']);
    }
    expect(vpcResources['ScorerLambdaFunction'].Properties.VpcConfig).toBeUndefined();
    // It reads one SSM parameter: no VPC, no route to it to build.
    expect(vpcResources['ApiAuthorizerLambdaFunction'].Properties.VpcConfig).toBeUndefined();
  });

  it('grants the network interface actions to the edge roles only, "*" only where EC2 allows nothing else', () => {
    const [[policyId, policy]] = Object.entries(vpcResources).filter(
      ([, r]) => r.Type === 'AWS::IAM::ManagedPolicy',
    ) as [[string, any]];
    // Attached through the roles (not the policy's Roles): each function waits for its role, the role
    // for the policy, so Lambda can create the interfaces when it creates the function.
    expect(policy.Properties.Roles).toBeUndefined();
    const attachedTo = Object.entries(vpcResources)
      .filter(([, r]) => JSON.stringify(r.Properties?.ManagedPolicyArns ?? []).includes(`"${policyId}"`))
      .map(([id]) => id)
      .sort();
    expect(attachedTo).toEqual(EDGE_ROLES);
    for (const role of EDGE_ROLES) {
      expect(vpcResources[role].Properties.ManagedPolicyArns).toEqual([{ Ref: policyId }]);
    }
    expect(vpcResources['ScorerRole'].Properties.ManagedPolicyArns).toBeUndefined();

    const all = iamStatements(vpcResources);
    const ec2 = all.filter(([, s]) => asList(s.Action).some((a: string) => a.startsWith('ec2:')));
    expect(new Set(ec2.map(([id]) => id))).toEqual(new Set([policyId]));
    expect(ec2.flatMap(([, s]) => asList(s.Action)).sort()).toEqual(ENI_ACTIONS);

    const resourcesOf = (action: string) =>
      asList(evaluate(ec2.find(([, s]) => asList(s.Action).includes(action))![1].Resource));
    const eni = 'arn:aws:ec2:us-east-1:123456789012:network-interface/*';
    expect(resourcesOf('ec2:CreateNetworkInterface')).toEqual([
      eni,
      'arn:aws:ec2:us-east-1:*:subnet/subnet-aaa',
      'arn:aws:ec2:us-east-1:*:subnet/subnet-bbb',
      'arn:aws:ec2:us-east-1:*:security-group/sg-123',
    ]);
    for (const action of [
      'ec2:DeleteNetworkInterface',
      'ec2:AssignPrivateIpAddresses',
      'ec2:UnassignPrivateIpAddresses',
    ]) {
      expect(resourcesOf(action), action).toEqual([eni]);
    }

    // "*" in exactly one statement, for the one action without resource-level permissions.
    const star = all.filter(([, s]) => asList(s.Resource).includes('*'));
    expect(star.map(([, s]) => s.Action)).toEqual([['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets']]);
    expect(JSON.stringify(vpcTemplate).match(/"Resource":\s*"\*"/g)).toHaveLength(1);
  });

  it('leaves the rest of the stack as the default package builds it', () => {
    // (Lambda versions are named after a hash of the function's configuration, VpcConfig included.)
    const ids = (all: Record<string, any>) =>
      Object.keys(all)
        .filter((id) => all[id].Type !== 'AWS::Lambda::Version')
        .sort();
    expect(ids(vpcResources)).toEqual([...ids(resources), 'EdgeNetworkInterfacesPolicy'].sort());
    for (const role of [...EDGE_ROLES, 'ScorerRole']) {
      expect(vpcResources[role].Properties.Policies).toEqual(resources[role].Properties.Policies);
    }
  });
});

describe('the HTTP API is closed by default (docs/SECURITY.md, "HTTP API")', () => {
  const route = (key: string) =>
    ofType('AWS::ApiGatewayV2::Route').find(([, r]) => r.Properties.RouteKey === key)![1].Properties;

  it('puts the API-key authorizer on every score-api route, not on the signed WordPress webhook', () => {
    for (const key of ['POST /v1/scores', 'POST /v1/uploads', 'GET /v1/scores/{id}', 'GET /v1/health']) {
      expect(route(key), key).toMatchObject({
        AuthorizationType: 'CUSTOM',
        AuthorizerId: { Ref: 'HttpApiAuthorizerApiKey' },
      });
    }
    expect(route('POST /v1/wordpress/webhook').AuthorizationType).toBeUndefined();
    expect(route('POST /v1/wordpress/webhook').AuthorizerId).toBeUndefined();
  });

  it('makes the authorizer a Lambda REQUEST authorizer on the Authorization header, simple responses, cached 300 s', () => {
    expect(resources['HttpApiAuthorizerApiKey'].Properties).toMatchObject({
      AuthorizerType: 'REQUEST',
      IdentitySource: ['$request.header.Authorization'],
      EnableSimpleResponses: true,
      AuthorizerPayloadFormatVersion: '2.0',
      AuthorizerResultTtlInSeconds: 300,
    });
    expect(JSON.stringify(resources['HttpApiAuthorizerApiKey'].Properties.AuthorizerUri)).toContain(
      'ApiAuthorizerLambdaFunction',
    );
    const fn = resources['ApiAuthorizerLambdaFunction'].Properties;
    expect(fn.Handler).toBe('dist/functions/api-authorizer/handler.handler');
    expect(fn.Role).toEqual({ 'Fn::GetAtt': ['ApiAuthorizerRole', 'Arn'] });
    expect(fn.Environment.Variables).toMatchObject({
      API_KEYS_PARAMETER: '/mmlq-edge/ci/api-keys',
      API_KEYS_JSON: '',
    });
    // Only API Gateway may invoke it.
    const [[, permission]] = ofType('AWS::Lambda::Permission').filter(([, p]) =>
      JSON.stringify(p.Properties.FunctionName).includes('ApiAuthorizerLambdaFunction'),
    ) as [[string, any]];
    expect(permission.Properties.Principal).toBe('apigateway.amazonaws.com');
  });

  it('gives the authorizer a role that may read the one key parameter and write its logs, nothing else', () => {
    const all = statements('ApiAuthorizerRole');
    expect(all.map((s) => s.Sid).sort()).toEqual(['Logs', 'ReadApiKeys']);
    const read = all.find((s) => s.Sid === 'ReadApiKeys');
    expect(read.Action).toBe('ssm:GetParameter');
    expect(evaluate(read.Resource)).toBe(
      'arn:aws:ssm:us-east-1:123456789012:parameter/mmlq-edge/ci/api-keys',
    );
    expect(evaluate(all.find((s) => s.Sid === 'Logs').Resource)).toBe(
      'arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/mmlq-edge-ci-api-authorizer:*',
    );
  });

  it('throttles the stage (20 requests/s, burst 40) and bounds score-api (20) and the scorer (10)', () => {
    expect(resources['HttpApiStage'].Properties.DefaultRouteSettings).toMatchObject({
      ThrottlingRateLimit: 20,
      ThrottlingBurstLimit: 40,
    });
    expect(resources['ScoreApiLambdaFunction'].Properties.ReservedConcurrentExecutions).toBe(20);
    expect(resources['ScorerLambdaFunction'].Properties.ReservedConcurrentExecutions).toBe(10);
  });

  it('passes score-api its results prefix and the prefixes an { s3 } input may name', () => {
    expect(resources['ScoreApiLambdaFunction'].Properties.Environment.Variables).toMatchObject({
      API_RESULTS_PREFIX: 'api-results/',
      API_S3_PREFIXES: 'uploads/,api-uploads/',
      STAGING_PREFIX: 'api-uploads/',
    });
  });

  it("expires the API's staged uploads after 1 day and its results after 30, nothing else", () => {
    const [, bucket] = ofType('AWS::S3::Bucket').find(
      ([, b]) => b.Properties.BucketName === 'mmlq-edge-ci-media',
    )!;
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual([
      { Id: 'expire-api-uploads', Status: 'Enabled', Prefix: 'api-uploads/', ExpirationInDays: 1 },
      { Id: 'expire-api-results', Status: 'Enabled', Prefix: 'api-results/', ExpirationInDays: 30 },
    ]);
  });
});

describe('CORS on the HTTP API (corsAllowedOrigins)', () => {
  /** Fn::Not / Fn::Equals over literals, as CloudFormation evaluates the CorsEnabled condition. */
  const condition = (node: any): boolean => {
    if (node['Fn::Not']) return !condition(node['Fn::Not'][0]);
    const [a, b] = node['Fn::Equals'];
    return a === b;
  };
  const cors = (t: any) => {
    const [name, enabled, disabled] = t.Resources['HttpApi'].Properties.CorsConfiguration['Fn::If'];
    return condition(t.Conditions[name]) ? enabled : disabled;
  };

  it('is closed by default: no CorsConfiguration (no CORS headers, browsers elsewhere cannot read answers)', () => {
    expect(cors(template)).toEqual({ Ref: 'AWS::NoValue' });
    expect(resources['HttpApi'].Properties).toMatchObject({ ProtocolType: 'HTTP' });
  });

  it('allows exactly the listed origins, GET and POST, the JSON content type and the API key header', async () => {
    const open = await packageService([
      'corsAllowedOrigins=https://app.example.com,https://admin.example.com',
    ]);
    const config = cors(open);
    expect(evaluate(config.AllowOrigins)).toEqual(['https://app.example.com', 'https://admin.example.com']);
    expect(config).toMatchObject({
      AllowMethods: ['GET', 'POST', 'OPTIONS'],
      AllowHeaders: ['authorization', 'content-type'],
      MaxAge: 600,
    });
    expect(config.AllowCredentials).toBeUndefined();
  });
});
