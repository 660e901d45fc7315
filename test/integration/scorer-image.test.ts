/**
 * The scorer's Lambda container image, replayed without Docker (there is no engine here): the
 * bundles are built as the image's build stage builds them, LAMBDA_TASK_ROOT is laid out exactly as
 * the final stage of functions/scorer/Dockerfile COPYs it (read from the Dockerfile itself), and the
 * handler its CMD names runs in a fresh node process with the image's ENV, on the image's Node major
 * (its FROM line: Lambda's nodejs:24; fetched from the npm registry, test/helpers/node-release.ts, as
 * this machine runs Node 20). This catches a bundle that does not run on the deployed Node, a path the
 * image gets wrong, and a model that is not where MODELS_DIR says.
 * Not covered: the base image itself and `npm prune` (node_modules is this checkout's).
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODELS_DIR } from '#core/model/registry.ts';
import { Scorer } from '#core/model/scorer.ts';
import { runChecked } from '../helpers/cloudformation.ts';
import { nodeRelease } from '../helpers/node-release.ts';

const REPO = resolve(import.meta.dirname, '../..');
const SAMPLE = join(REPO, 'test/fixtures/samples/rocket.jpg');

interface FinalStage {
  /** The Node.js major of the stage's base image (`public.ecr.aws/lambda/nodejs:<major>`). */
  nodeMajor: number;
  args: Record<string, string>;
  env: Record<string, string>;
  copies: { from: string | undefined; src: string; dest: string }[];
  cmd: string[];
}

/** The instructions of the Dockerfile's last stage that shape the task root (no continuation lines there). */
function finalStage(dockerfile: string): FinalStage {
  const lines = dockerfile.split('\n');
  const start = lines.findLastIndex((l) => /^FROM\s/i.test(l));
  const base = /public\.ecr\.aws\/lambda\/nodejs:(\d+)\b/.exec(lines[start]!);
  if (!base) throw new Error(`The final stage's base is not a Lambda Node.js image: ${lines[start]}`);
  const stage: FinalStage = { nodeMajor: Number(base[1]), args: {}, env: {}, copies: [], cmd: [] };
  const preset: Record<string, string> = { LAMBDA_TASK_ROOT: '/var/task' }; // set by the Lambda base image
  const expand = (s: string) =>
    s.replace(/\$\{(\w+)\}/g, (_, name: string) => {
      const value = stage.args[name] ?? stage.env[name] ?? preset[name];
      if (value === undefined) throw new Error(`\${${name}} is not defined in the final stage`);
      return value;
    });
  for (const line of lines.slice(start + 1)) {
    const [instruction, ...rest] = line.trim().split(/\s+/);
    if (!instruction || instruction.startsWith('#')) continue;
    if (instruction === 'ARG') {
      const [name, value = ''] = rest[0]!.split('=');
      stage.args[name!] = value;
    } else if (instruction === 'ENV') {
      for (const pair of rest) {
        const eq = pair.indexOf('=');
        stage.env[pair.slice(0, eq)] = expand(pair.slice(eq + 1));
      }
    } else if (instruction === 'COPY') {
      const from = rest[0]!.startsWith('--from=') ? rest.shift()!.slice('--from='.length) : undefined;
      stage.copies.push({ from, src: expand(rest[0]!), dest: expand(rest[1]!) });
    } else if (instruction === 'CMD') {
      stage.cmd = JSON.parse(rest.join(' '));
    } else {
      throw new Error(`The test does not replay ${instruction}: teach it, or keep the final stage simple`);
    }
  }
  return stage;
}

let work: string;
let node: { node: string; version: string };
let taskRoot: string;
let stage: FinalStage;
let images: Server;
let origin: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mmlq-image-'));
  const build = join(work, 'build');
  // The build stage: `npx tsx tools/build-functions.ts` in /build (here: into a private out dir).
  runChecked(process.execPath, [
    'node_modules/tsx/dist/cli.mjs',
    'tools/build-functions.ts',
    '--out',
    join(build, 'dist'),
  ]);
  stage = finalStage(await readFile(join(REPO, 'functions/scorer/Dockerfile'), 'utf8'));
  node = nodeRelease(stage.nodeMajor);
  taskRoot = join(work, 'var/task');
  await mkdir(taskRoot, { recursive: true });
  const inRoot = (dest: string) => join(taskRoot, dest.replace(/^\/var\/task/, ''));
  for (const { from, src, dest } of stage.copies) {
    if (from === 'build' && src === '/build/node_modules') {
      await symlink(join(REPO, 'node_modules'), inRoot(dest));
    } else if (from === 'build') {
      await cp(join(build, src.replace(/^\/build\//, '')), inRoot(dest), { recursive: true });
    } else {
      await cp(join(REPO, src), inRoot(dest), { recursive: true });
    }
  }
  const jpeg = await readFile(SAMPLE);
  images = createServer((req, res) => {
    if (req.url === '/rocket.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => images.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(images.address() as { port: number }).port}`;
}, 120_000);

afterAll(async () => {
  await new Promise((r) => images?.close(r));
  await rm(work, { recursive: true, force: true });
});

/** Runs the CMD handler once, as the Lambda runtime would, in a process that sees only the image's files. */
function invoke(event: unknown): Promise<any> {
  const [module, exported] = stage.cmd[0]!.split('.');
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    ...Object.fromEntries(
      Object.entries(stage.env).map(([k, v]) => [k, v.replaceAll('/var/task', taskRoot)]),
    ),
    LAMBDA_TASK_ROOT: taskRoot,
    AWS_REGION: 'us-east-1',
    URL_ALLOWED_ORIGINS: origin,
    URL_ALLOW_PRIVATE_NETWORKS: 'true',
    POWERTOOLS_METRICS_NAMESPACE: 'test',
  };
  const runner = `
    const m = await import(${JSON.stringify(`file://${taskRoot}/${module}.mjs`)});
    const context = { awsRequestId: 'r-1', functionName: 'scorer', functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:scorer', memoryLimitInMB: '3008',
      getRemainingTimeInMillis: () => 60000 };
    const out = await m[${JSON.stringify(exported)}](JSON.parse(process.argv[1]), context);
    process.stdout.write('\\n@@' + JSON.stringify({ node: process.version, out }) + '\\n');`;
  return new Promise((done, fail) => {
    const child = spawn(node.node, ['--input-type=module', '-e', runner, JSON.stringify(event)], {
      cwd: taskRoot,
      env,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('@@'));
      if (code !== 0 || !line) fail(new Error(`handler exited ${code}:\n${out}\n${err}`));
      else {
        const { node: version, out: answer } = JSON.parse(line.slice(2));
        if (version === `v${node.version}`) done(answer);
        else fail(new Error(`the handler ran on Node ${version}, not ${node.version}`));
      }
    });
  });
}

describe('the scorer image (functions/scorer/Dockerfile), replayed', () => {
  it('lays out the bundle, its source map and the default model under LAMBDA_TASK_ROOT', async () => {
    expect(stage.cmd).toEqual(['handler.handler']);
    expect(stage.env['MODELS_DIR']).toBe('/var/task/models');
    const model = stage.env['MODEL']!;
    const manifest = JSON.parse(await readFile(join(taskRoot, 'models', model, 'manifest.json'), 'utf8'));
    expect(manifest.name).toBe(model);
    await expect(readFile(join(taskRoot, 'handler.mjs.map'))).resolves.toBeInstanceOf(Buffer);
  });

  it("scores by the CMD handler with the image ENV on the image's Node, exactly as the core does in-process", async () => {
    expect(stage.nodeMajor).toBe(24); // as serverless.yml's provider.runtime (nodejs24.x)
    expect(node.version).toMatch(/^24\./);
    const answer = await invoke({
      items: [
        { id: 'rocket', image: { url: `${origin}/rocket.jpg` }, text: 'crisp and lovely' },
        { id: 'gone', image: { url: `${origin}/missing.jpg` } },
      ],
    });
    expect(answer.model).toMatchObject({ name: stage.env['MODEL'], provider: 'cpu', multimodal: true });
    expect(answer.outcomes[1]).toMatchObject({ id: 'gone', ok: false, error: { code: 'IMAGE_NOT_FOUND' } });
    const rocket = answer.outcomes[0];
    expect(rocket).toMatchObject({ id: 'rocket', ok: true, result: { mode: 'image+text' } });

    const scorer = await Scorer.create({
      model: stage.env['MODEL']!,
      modelsDir: DEFAULT_MODELS_DIR,
      log: () => {},
    });
    const local = await scorer.scoreOne({
      id: 'rocket',
      image: { bytes: await readFile(SAMPLE) },
      text: 'crisp and lovely',
    });
    expect(rocket.result.score).toBeCloseTo(local.score, 6);
    expect(rocket.result.distribution).toHaveLength(10);
  }, 60_000);
});
