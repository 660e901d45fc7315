/**
 * What `npm run package` / `npm run package:gpu` leave behind: the GPU stack in its own folder (the edge
 * zips in .serverless/ survive it), its required parameters named when missing, and Lambda bundles
 * without their source maps (written apart, under <out>/sourcemaps/).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { gpuPackageArgs, REQUIRED_PARAMS } from '#tools/package-gpu.ts';

const root = join(import.meta.dirname, '../..');
const run = promisify(execFile);
const PARAMS = {
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: 'subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb',
  sourceSecurityGroupId: 'sg-0edge0000000000000',
  scorerImage: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/mmlq-edge-scorer-gpu@sha256:${'ab'.repeat(32)}`,
};

describe('npm run package:gpu', () => {
  it('names the parameters serverless.gpu.yml needs when they are missing, exit 2', async () => {
    const failed = await run('npm', ['run', '--silent', 'package:gpu', '--', '--param=vpcId=vpc-1'], {
      cwd: root,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(2);
    const { stderr } = failed as { stderr: string };
    expect(stderr).toContain(
      'error: serverless.gpu.yml needs subnetIds, sourceSecurityGroupId, scorerImage:',
    );
    for (const p of ['subnetIds', 'sourceSecurityGroupId', 'scorerImage'])
      expect(stderr).toContain(`--param="${p}=..."`);
    expect(gpuPackageArgs(['--param', 'vpcId=a'], 'dev')).toEqual({
      ok: false,
      missing: Object.keys(REQUIRED_PARAMS).filter((p) => p !== 'vpcId'),
    });
  });

  it('packages into .serverless-gpu/ and leaves the zips of npm run package in .serverless/', async () => {
    const sentinel = join(root, '.serverless', 'from-npm-run-package.txt');
    await mkdir(join(root, '.serverless'), { recursive: true });
    await writeFile(sentinel, 'still here');
    try {
      await run(
        'npm',
        [
          'run',
          '--silent',
          'package:gpu',
          '--',
          ...Object.entries(PARAMS).map(([k, v]) => `--param=${k}=${v}`),
        ],
        {
          cwd: root,
          env: { ...process.env, STAGE: 'ci' },
        },
      );
      expect(await readFile(sentinel, 'utf8')).toBe('still here');
      const template = JSON.parse(
        await readFile(join(root, '.serverless-gpu/cloudformation-template-update-stack.json'), 'utf8'),
      );
      expect(Object.keys(template.Resources).length).toBeGreaterThan(5);
    } finally {
      await rm(sentinel, { force: true });
    }
  }, 120_000);
});

describe('npm run build:functions', () => {
  it('ships no source maps in the Lambda bundles; writes them apart; the scorer keeps its linked map', async () => {
    const out = await mkdtemp(join(tmpdir(), 'mmlq-build-'));
    try {
      await run(process.execPath, ['--import', 'tsx', 'tools/build-functions.ts', '--out', out], {
        cwd: root,
      });
      for (const fn of ['score-api', 'on-upload', 'wp-webhook']) {
        expect(await readdir(join(out, 'functions', fn))).toEqual(['handler.mjs']);
        expect(await readFile(join(out, 'functions', fn, 'handler.mjs'), 'utf8')).not.toContain(
          'sourceMappingURL',
        );
        expect(existsSync(join(out, 'sourcemaps', fn, 'handler.mjs.map'))).toBe(true);
      }
      expect((await readdir(join(out, 'functions', 'scorer'))).sort()).toEqual([
        'handler.mjs',
        'handler.mjs.map',
        // the inference worker, started by runtime.ts from beside the bundle
        'runtime-worker.mjs',
        'server.mjs',
        'server.mjs.map',
      ]);
      // beside the CLI bundle too, as it is in the sources
      const worker = await readFile(join(root, 'layers/core/src/model/runtime-worker.mjs'), 'utf8');
      expect(await readFile(join(out, 'runtime-worker.mjs'), 'utf8')).toBe(worker);
      expect(await readFile(join(out, 'functions', 'scorer', 'runtime-worker.mjs'), 'utf8')).toBe(worker);
      expect(await readFile(join(out, 'functions', 'scorer', 'handler.mjs'), 'utf8')).toContain(
        '//# sourceMappingURL=handler.mjs.map',
      );
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 120_000);
});
