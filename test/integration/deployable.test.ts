/**
 * "Deployable today": both stacks packaged offline (`osls package`, no credentials), in a private copy of
 * the service (its own dist/, so it never races the other packaging tests), then
 *  - every Lambda function of every packaged template (the main stack, the main stack on an existing
 *    bucket, which adds osls's S3 notification custom resource, and the GPU stack) uses a runtime that
 *    .ci/lambda-runtimes.json lists and that is not deprecated today (image functions carry none);
 *  - the two stacks agree on what they share (shared-params.yml): region, stage, bucket, prefixes, model,
 *    tiers, URL origins, also when a stage section overrides the defaults.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecked } from '../helpers/cloudformation.ts';

const REPO = resolve(import.meta.dirname, '../..');
const GPU_PARAMS = {
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: 'subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb',
  sourceSecurityGroupId: 'sg-0edge0000000000000',
  scorerImage: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/mmlq-edge-scorer-gpu@sha256:${'cd'.repeat(32)}`,
};
// A stage section as a team would add it: it must reach both stacks.
const STAGE_SECTION = `
ci:
  region: eu-west-1
  bucket: team-media-ci
  urlAllowedOrigins: https://example.com,https://cdn.example.com
`;

interface RuntimeDates {
  deprecate: string;
  blockCreate: string;
  blockUpdate: string;
}
type Runtimes = Record<string, RuntimeDates>;

/** Why a runtime is not acceptable on `day` (YYYY-MM-DD), or undefined when it is. */
function runtimeProblem(runtime: string, day: string, table: Runtimes): string | undefined {
  const dates = table[runtime];
  if (!dates) return `${runtime} is not in .ci/lambda-runtimes.json`;
  if (day >= dates.blockUpdate) return `${runtime}: updates blocked since ${dates.blockUpdate}`;
  if (day >= dates.blockCreate) return `${runtime}: creation blocked since ${dates.blockCreate}`;
  if (day >= dates.deprecate) return `${runtime}: deprecated since ${dates.deprecate}`;
  return undefined;
}

interface Packaged {
  template: any;
  state: any;
}

let work: string;
let table: Runtimes;
const packaged: Record<'main' | 'existing' | 'gpu', Packaged> = {} as any;

/**
 * `osls package` in a private copy of the service (one per run: osls writes .serverless/ in the service
 * folder, so parallel runs must not share one); resolves with the template and the resolved service state.
 */
async function packageStack(name: string, args: string[]): Promise<Packaged> {
  const service = join(work, name);
  await mkdir(service);
  for (const f of ['serverless.yml', 'serverless.gpu.yml']) await cp(join(REPO, f), join(service, f));
  await writeFile(
    join(service, 'shared-params.yml'),
    `${await readFile(join(REPO, 'shared-params.yml'), 'utf8')}${STAGE_SECTION}`,
  );
  await symlink(join(REPO, 'node_modules'), join(service, 'node_modules'));
  await symlink(join(work, 'build', 'dist'), join(service, 'dist'));
  const out = join(work, 'out', name);
  await new Promise<void>((done, fail) => {
    const child = spawn(
      process.execPath,
      ['node_modules/osls/bin/serverless.js', 'package', '--stage', 'ci', '--package', out, ...args],
      {
        cwd: service,
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: '',
          AWS_SECRET_ACCESS_KEY: '',
          ONNXRUNTIME_NODE_INSTALL: 'skip',
        },
      },
    );
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) done();
      else fail(new Error(`osls package ${args.join(' ')} failed (${code}):\n${text}`));
    });
  });
  const read = async (f: string) => JSON.parse(await readFile(join(out, f), 'utf8'));
  return {
    template: await read('cloudformation-template-update-stack.json'),
    state: await read('serverless-state.json'),
  };
}

beforeAll(async () => {
  table = JSON.parse(await readFile(join(REPO, '.ci/lambda-runtimes.json'), 'utf8')).runtimes;
  work = await mkdtemp(join(tmpdir(), 'mmlq-deployable-'));
  runChecked(process.execPath, [
    'node_modules/tsx/dist/cli.mjs',
    'tools/build-functions.ts',
    '--out',
    join(work, 'build', 'dist'),
  ]);
  const gpuArgs = Object.entries(GPU_PARAMS).map(([k, v]) => `--param=${k}=${v}`);
  [packaged.main, packaged.existing, packaged.gpu] = await Promise.all([
    packageStack('main', []),
    packageStack('existing', ['--param=existingBucket=true']),
    packageStack('gpu', ['--config', 'serverless.gpu.yml', ...gpuArgs]),
  ]);
}, 240_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const functions = (template: any): [string, any][] =>
  Object.entries(template.Resources).filter(([, r]: [string, any]) => r.Type === 'AWS::Lambda::Function') as [
    string,
    any,
  ][];

describe('Lambda runtimes (.ci/lambda-runtimes.json)', () => {
  it('rejects what broke deploys on 2026-11-30 (nodejs20.x) and runtimes it does not know', () => {
    expect(runtimeProblem('nodejs20.x', '2026-11-30', table)).toMatch(/updates blocked since 2026-09-30/);
    expect(runtimeProblem('nodejs20.x', '2026-05-01', table)).toMatch(/deprecated since 2026-04-30/);
    expect(runtimeProblem('nodejs24.x', '2026-11-30', table)).toBeUndefined();
    expect(runtimeProblem('nodejs99.x', '2026-11-30', table)).toMatch(/not in/);
  });

  it('packages every zip function of both stacks, custom resources included, on a runtime accepted today', () => {
    const today = new Date().toISOString().slice(0, 10);
    const seen: string[] = [];
    for (const [stack, { template }] of Object.entries(packaged)) {
      for (const [id, fn] of functions(template)) {
        if (fn.Properties.PackageType === 'Image') {
          expect(fn.Properties.Runtime, `${stack} ${id}`).toBeUndefined();
          continue;
        }
        seen.push(`${stack}:${id}`);
        expect(runtimeProblem(fn.Properties.Runtime, today, table), `${stack} ${id}`).toBeUndefined();
      }
    }
    // osls's existing-bucket notification function follows provider.runtime too.
    expect(seen).toContain('existing:CustomDashresourceDashexistingDashs3LambdaFunction');
    const runtime = packaged.existing.template.Resources.CustomDashresourceDashexistingDashs3LambdaFunction;
    expect(runtime.Properties.Runtime).toBe(packaged.main.state.service.provider.runtime);
    // the zip functions (backfill is on-upload's zip); the scorer is an image
    expect(seen.filter((s) => s.startsWith('main:')).sort()).toEqual([
      'main:ApiAuthorizerLambdaFunction',
      'main:BackfillLambdaFunction',
      'main:LibraryTiersLambdaFunction',
      'main:OnUploadLambdaFunction',
      'main:ScoreApiLambdaFunction',
      'main:WpWebhookLambdaFunction',
    ]);
  });
});

describe('the main stack and the GPU stack agree (shared-params.yml)', () => {
  const mainFn = (id: string) => packaged.main.template.Resources[id].Properties;
  const task = () => packaged.gpu.template.Resources.TaskDefinition.Properties.ContainerDefinitions[0];
  const taskEnv = (): Record<string, string> =>
    Object.fromEntries(task().Environment.map((e: any) => [e.Name, e.Value]));
  const statement = (template: any, role: string, sid: string) =>
    template.Resources[role].Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement).find(
      (s: any) => s.Sid === sid,
    );

  it('deploys to the same stage and region, the stage section winning over the defaults', () => {
    const provider = (p: Packaged) => p.state.service.provider;
    expect(provider(packaged.main)).toMatchObject({ stage: 'ci', region: 'eu-west-1' });
    expect(provider(packaged.gpu)).toMatchObject({ stage: 'ci', region: 'eu-west-1' });
  });

  it('reads the same bucket, prefixes, model, tiers and URL origins', () => {
    const scorer = mainFn('ScorerLambdaFunction').Environment.Variables;
    const env = taskEnv();
    expect(scorer.ALLOWED_BUCKETS).toBe('team-media-ci');
    for (const name of ['ALLOWED_BUCKETS', 'MODEL', 'TIERS']) expect(env[name], name).toBe(scorer[name]);
    const origins = mainFn('ScoreApiLambdaFunction').Environment.Variables.URL_ALLOWED_ORIGINS;
    expect(origins).toBe('https://example.com,https://cdn.example.com');
    expect(env['URL_ALLOWED_ORIGINS']).toBe(origins);
    expect(mainFn('OnUploadLambdaFunction').Environment.Variables.UPLOAD_PREFIX).toBe('uploads/');
    // The GPU tasks may read exactly what the scorer Lambda may read.
    for (const sid of ['ReadImages', 'NotFoundNotForbidden']) {
      const lambda = statement(packaged.main.template, 'ScorerRole', sid);
      const gpu = statement(packaged.gpu.template, 'TaskRole', sid);
      expect([gpu.Action, gpu.Resource, gpu.Condition], sid).toEqual([
        lambda.Action,
        lambda.Resource,
        lambda.Condition,
      ]);
    }
    const bucket = Object.values(packaged.main.template.Resources).find(
      (r: any) => r.Type === 'AWS::S3::Bucket' && r.Properties.BucketName,
    ) as any;
    expect(bucket.Properties.BucketName).toBe('team-media-ci');
  });
});
