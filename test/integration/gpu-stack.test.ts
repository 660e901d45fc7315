/**
 * The GPU companion stack (serverless.gpu.yml): `osls package --config serverless.gpu.yml` offline (no AWS
 * credentials, no network), then assertions on the CloudFormation it generates: one GPU per task on GPU
 * container instances, the scorer image by digest, the environment the scorer really reads (fed to the
 * real config reader), the health check path the real server answers, least-privilege IAM, port 8080
 * only from the edge functions' security group, and the ScorerUrl output for the main stack.
 * Nothing here deploys or builds the image.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observability } from '#core/common/observability.ts';
import { unloadAll } from '#core/model/registry.ts';
import { readServerConfig } from '#core/scorer-service/config.ts';
import { type ScorerServer, startScorerServer } from '#core/scorer-service/http-server.ts';
import { evaluate, osls } from '../helpers/cloudformation.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';

const PARAMS = {
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: 'subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb',
  sourceSecurityGroupId: 'sg-0edge0000000000000',
  scorerImage: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/mmlq-edge-scorer-gpu@sha256:${'ab'.repeat(32)}`,
};

let out: string;
let modelsDir: string;
let template: any;
let resources: Record<string, any>;
let server: ScorerServer | undefined;

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const container = () => resources['TaskDefinition'].Properties.ContainerDefinitions[0];
const environment = (): Record<string, unknown> =>
  Object.fromEntries(container().Environment.map((e: any) => [e.Name, e.Value]));
const statements = (role: string): any[] =>
  resources[role].Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement);
const groupId = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'GroupId'] });

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'mmlq-gpu-package-'));
  const args = ['package', '--config', 'serverless.gpu.yml', '--stage', 'ci', '--package', out];
  const result = osls([...args, ...Object.entries(PARAMS).map(([k, v]) => `--param=${k}=${v}`)]);
  if (result.status !== 0) {
    throw new Error(
      `osls ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  template = JSON.parse(await readFile(join(out, 'cloudformation-template-update-stack.json'), 'utf8'));
  resources = template.Resources;
});

afterAll(async () => {
  await server?.close();
  await unloadAll();
  if (out) await rm(out, { recursive: true, force: true });
  if (modelsDir) await rm(modelsDir, { recursive: true, force: true });
});

describe('osls package --config serverless.gpu.yml', () => {
  it('refuses to package without the network and image parameters', () => {
    const result = osls([
      'package',
      '--config',
      'serverless.gpu.yml',
      '--stage',
      'ci',
      '--package',
      join(out, 'refused'),
    ]);
    expect(result.status).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toMatch(/Cannot resolve variable/);
  });

  it('defines no functions: only the companion resources', () => {
    expect(ofType('AWS::Lambda::Function')).toEqual([]);
    expect(ofType('AWS::ECS::Service')).toHaveLength(1);
  });

  it('runs the scorer image, pinned by digest, with one GPU on ECS-optimised GPU instances', () => {
    const task = resources['TaskDefinition'].Properties;
    expect(task.RequiresCompatibilities).toEqual(['EC2']);
    expect(task.NetworkMode).toBe('awsvpc');
    expect(container().Image).toBe(PARAMS.scorerImage);
    expect(container().Image).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(container().ResourceRequirements).toEqual([{ Type: 'GPU', Value: '1' }]);
    expect(container().PortMappings).toEqual([{ ContainerPort: '8080', Protocol: 'tcp' }]);

    // The AMI comes from the public SSM parameter of the ECS GPU AMI, resolved by CloudFormation.
    const ami = template.Parameters['GpuAmiId'];
    expect(ami.Type).toBe('AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>');
    expect(ami.Default).toMatch(/^\/aws\/service\/ecs\/optimized-ami\/[^/]+\/gpu\/recommended\/image_id$/);
    const launch = resources['LaunchTemplate'].Properties.LaunchTemplateData;
    expect(launch.ImageId).toEqual({ Ref: 'GpuAmiId' });
    expect(launch.InstanceType).toBe('g4dn.xlarge');
    expect(launch.MetadataOptions.HttpTokens).toBe('required');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder
    expect(launch.UserData['Fn::Base64']['Fn::Sub']).toContain('ECS_CLUSTER=${Cluster}');

    // Auto Scaling group → capacity provider → cluster default and the service's strategy.
    const provider = resources['CapacityProvider'].Properties.AutoScalingGroupProvider;
    expect(provider.AutoScalingGroupArn).toEqual({ Ref: 'AutoScalingGroup' });
    expect(provider.ManagedScaling.Status).toBe('ENABLED');
    expect(resources['AutoScalingGroup'].Properties.LaunchTemplate.LaunchTemplateId).toEqual({
      Ref: 'LaunchTemplate',
    });
    expect(resources['ClusterCapacityProviders'].Properties.CapacityProviders).toEqual([
      { Ref: 'CapacityProvider' },
    ]);
    const service = resources['Service'];
    expect(service.Properties.CapacityProviderStrategy).toEqual([
      { CapacityProvider: { Ref: 'CapacityProvider' }, Weight: 1 },
    ]);
    expect(service.DependsOn).toContain('ClusterCapacityProviders');
  });

  it('sets PROVIDER=cuda, PORT 8080 and only variables the scorer reads, which its config accepts', async () => {
    const env = environment();
    expect(env).toMatchObject({
      PROVIDER: 'cuda',
      REQUIRE_PROVIDER: 'true', // a GPU task without CUDA fails at start instead of serving on cpu
      HOST: '0.0.0.0', // explicit: the server's default is loopback, unreachable from the ALB
      PORT: '8080',
      MODEL: 'mmlq-mnv2-synth',
      MODELS_DIR: '/app/models', // where Dockerfile.gpu copies the model
      ALLOWED_BUCKETS: 'mmlq-edge-ci-media', // the main stack's default bucket for the same stage
      BATCH_SIZE: '32',
      BATCH_WINDOW_MS: '5',
      MAX_BATCH_ITEMS: '64',
      AWS_REGION: { Ref: 'AWS::Region' },
    });
    // Every name must be one the scorer's config code reads (or the runtime's own).
    const sources = await Promise.all(
      ['layers/core/src/scorer-service/config.ts', 'layers/core/src/clients/config.ts'].map((f) =>
        readFile(f, 'utf8'),
      ),
    );
    const read = new Set(sources.flatMap((s) => [...s.matchAll(/\(env, '([A-Z0-9_]+)'/g)].map((m) => m[1])));
    const runtime = ['NODE_OPTIONS', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_LOG_LEVEL'];
    for (const name of Object.keys(env)) expect([...read, ...runtime]).toContain(name);

    const config = readServerConfig({ ...env, AWS_REGION: 'eu-west-1' } as Record<string, string>);
    expect(config).toMatchObject({
      provider: 'cuda',
      requireProvider: true,
      port: 8080,
      host: '0.0.0.0',
      model: 'mmlq-mnv2-synth',
      modelsDir: '/app/models',
      batchSize: 32,
      batchWindowMs: 5,
      maxBatchItems: 64,
      allowedBuckets: ['mmlq-edge-ci-media'],
    });
  });

  it('health-checks (container and load balancer) the path the real server answers', async () => {
    const target = resources['TargetGroup'].Properties;
    const path: string = target.HealthCheckPath;
    expect(target).toMatchObject({
      TargetType: 'ip',
      Protocol: 'HTTP',
      Port: '8080',
      Matcher: { HttpCode: '200' },
    });
    expect(container().HealthCheck.Command).toEqual([
      'CMD-SHELL',
      `curl -fs http://127.0.0.1:8080${path} || exit 1`,
    ]);

    // The real HTTP entry point, configured by the task's environment (tiny model, loopback, free port).
    modelsDir = await mkdtemp(join(tmpdir(), 'mmlq-gpu-models-'));
    await writeTinyModel(modelsDir, { name: 'tiny' });
    const { logger } = observability('gpu-stack-test');
    logger.warn = (() => undefined) as typeof logger.warn; // the cuda → cpu fallback line
    const env = { ...environment(), AWS_REGION: 'eu-west-1' } as Record<string, string>;
    // REQUIRE_PROVIDER off: this machine has no CUDA (scorer-http.test.ts covers the refusal).
    const local = {
      MODEL: 'tiny',
      MODELS_DIR: modelsDir,
      HOST: '127.0.0.1',
      PORT: '0',
      REQUIRE_PROVIDER: 'false',
    };
    server = await startScorerServer(readServerConfig({ ...env, ...local }), logger);
    const health = await fetch(`${server.url}${path}`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    expect((await fetch(`${server.url}${path}z`)).status).toBe(404);
  });

  it('scopes the task role to reading the upload and staging prefixes, with "*" only where AWS allows nothing else', () => {
    const task = statements('TaskRole');
    expect(JSON.stringify(task)).not.toContain('"*"');
    const read = task.find((s) => s.Sid === 'ReadImages');
    expect(read.Action).toEqual(['s3:GetObject', 's3:GetObjectVersion']);
    expect(read.Resource).toEqual([
      'arn:aws:s3:::mmlq-edge-ci-media/uploads/*',
      'arn:aws:s3:::mmlq-edge-ci-media/api-uploads/*',
    ]);
    const list = task.find((s) => s.Sid === 'NotFoundNotForbidden');
    expect(list).toMatchObject({ Action: 's3:ListBucket', Resource: 'arn:aws:s3:::mmlq-edge-ci-media' });
    expect(list.Condition.StringLike['s3:prefix']).toEqual(['uploads/*', 'api-uploads/*']);
    expect(task.map((s) => s.Sid).sort()).toEqual(['NotFoundNotForbidden', 'ReadImages']);
    expect(task.every((s) => s.Effect === 'Allow' && !s.NotResource && !s.NotAction)).toBe(true);

    // Across every role of the stack, Resource "*" appears only for actions without resource scoping.
    const all = ofType('AWS::IAM::Role').flatMap(([id]) =>
      resources[id].Properties.Policies ? statements(id) : [],
    );
    const star = all.filter(
      (s) => s.Resource === '*' || (Array.isArray(s.Resource) && s.Resource.includes('*')),
    );
    expect(star.map((s) => s.Action).sort()).toEqual([
      'ecr:GetAuthorizationToken', // execution role
      'ecr:GetAuthorizationToken', // instance role
      'ecs:DiscoverPollEndpoint',
    ]);
    expect(ofType('AWS::IAM::Role').every(([, r]) => !r.Properties.ManagedPolicyArns)).toBe(true);

    // Image pulls and container logs: the scorer image's repository and the one log group only. On the
    // EC2 launch type the instance role pulls and logs (the execution role does on Fargate): both have it.
    for (const role of ['ExecutionRole', 'InstanceRole']) {
      const pull = statements(role).find((s) => s.Sid === 'PullScorerImage');
      expect(pull.Action, role).toEqual([
        'ecr:BatchCheckLayerAvailability',
        'ecr:BatchGetImage',
        'ecr:GetDownloadUrlForLayer',
      ]);
      expect(evaluate(pull.Resource, { 'AWS::Partition': 'aws' }), role).toBe(
        'arn:aws:ecr:eu-west-1:123456789012:repository/team/mmlq-edge-scorer-gpu',
      );
      expect(
        statements(role).find((s) => s.Sid === 'Logs'),
        role,
      ).toMatchObject({
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': ['ScorerLogGroup', 'Arn'] },
      });
    }
    expect(resources['TaskDefinition'].Properties.TaskRoleArn).toEqual({ 'Fn::GetAtt': ['TaskRole', 'Arn'] });
  });

  it('lets port 8080 in only from the given security group (through the internal load balancer)', () => {
    const ingress = (id: string) => [
      ...(resources[id].Properties.SecurityGroupIngress ?? []),
      ...ofType('AWS::EC2::SecurityGroupIngress')
        .map(([, r]) => r.Properties)
        .filter((p) => JSON.stringify(p.GroupId) === JSON.stringify(groupId(id))),
    ];
    const groups = ofType('AWS::EC2::SecurityGroup').map(([id]) => id);
    expect(groups.sort()).toEqual([
      'InstanceSecurityGroup',
      'LoadBalancerSecurityGroup',
      'ScorerSecurityGroup',
    ]);
    const rule = (source: unknown) => [
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: '8080',
        ToPort: '8080',
        SourceSecurityGroupId: source,
      }),
    ];
    expect(ingress('LoadBalancerSecurityGroup')).toEqual(rule(PARAMS.sourceSecurityGroupId));
    expect(ingress('ScorerSecurityGroup')).toEqual(rule(groupId('LoadBalancerSecurityGroup')));
    expect(ingress('InstanceSecurityGroup')).toEqual([]);
    expect(JSON.stringify(template)).not.toMatch(/"CidrIpv6"|"SourcePrefixListId"/);
    for (const id of groups) {
      for (const r of ingress(id)) expect(r.CidrIp).toBeUndefined();
    }

    expect(resources['LoadBalancer'].Properties).toMatchObject({
      Scheme: 'internal',
      Subnets: { 'Fn::Split': [',', PARAMS.subnetIds] },
      SecurityGroups: [groupId('LoadBalancerSecurityGroup')],
    });
    expect(resources['Listener'].Properties).toMatchObject({ Protocol: 'HTTP', Port: '8080' });
    expect(resources['Service'].Properties.NetworkConfiguration.AwsvpcConfiguration).toEqual({
      AssignPublicIp: 'DISABLED',
      Subnets: { 'Fn::Split': [',', PARAMS.subnetIds] },
      SecurityGroups: [groupId('ScorerSecurityGroup')],
    });
    expect(resources['Service'].Properties.LoadBalancers).toEqual([
      { ContainerName: 'scorer', ContainerPort: '8080', TargetGroupArn: { Ref: 'TargetGroup' } },
    ]);
  });

  it('keeps the logs for a bounded time and outputs the scorer URL for the main stack', () => {
    expect(resources['ScorerLogGroup'].Properties.RetentionInDays).toBe('30');
    expect(container().LogConfiguration.Options['awslogs-group']).toEqual({ Ref: 'ScorerLogGroup' });
    expect(template.Outputs['ScorerUrl'].Value).toEqual({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder
      'Fn::Sub': 'http://${LoadBalancer.DNSName}:8080',
    });
  });
});
