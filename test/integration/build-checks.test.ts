/**
 * The function bundler's own refusals (tools/build-functions.ts): an edge bundle that would load the
 * native runtime, or any bundle that would ship dev tooling (tools/) or a dev-only package.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const DIR = join(ROOT, '.tmp/build-checks');

function bundle(source: string, name: string) {
  return writeFile(join(DIR, `${name}.ts`), source).then(() => {
    const run = spawnSync(
      process.execPath,
      [
        'node_modules/tsx/dist/cli.mjs',
        'tools/build-functions.ts',
        '--out',
        join(DIR, 'out'),
        '--edge',
        join(DIR, `${name}.ts`),
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  });
}

beforeAll(() => mkdir(DIR, { recursive: true }));
afterAll(() => rm(DIR, { recursive: true, force: true }));

describe('tools/build-functions.ts refuses what must not ship', { timeout: 60_000 }, () => {
  it('builds an edge function of shipped code', async () => {
    const ok = await bundle(
      "import { readApiConfig } from '../../layers/core/src/score-api/config.ts';\nexport const handler = () => typeof readApiConfig;\n",
      'ok',
    );
    expect(ok.output).toContain('check/handler.mjs');
    expect(ok.status).toBe(0);
  });

  it('fails on a devDependency (s3rver) and names what it would pull in', async () => {
    const r = await bundle(
      "import S3rver from 's3rver';\nexport const handler = () => String(S3rver);\n",
      'dev-package',
    );
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('would ship dev-only code');
    expect(r.output).toMatch(/node_modules\/s3rver\//);
  });

  it('fails on dev tooling under tools/', async () => {
    const r = await bundle(
      "import { S3EventBridge } from '../../tools/local/s3-bridge.ts';\nexport const handler = () => String(S3EventBridge);\n",
      'tools',
    );
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/would ship dev-only code[\s\S]*tools\/local\/s3-bridge\.ts/);
  });

  it('fails on the native runtime in an edge function', async () => {
    const r = await bundle(
      "import sharp from 'sharp';\nexport const handler = () => String(sharp);\n",
      'native',
    );
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('must not load sharp: an edge function imports the runtime');
  });

  it('fails on the model runtime in an edge function (it loads onnxruntime-node in its worker only)', async () => {
    const r = await bundle(
      "import { ModelSession } from '../../layers/core/src/model/runtime.ts';\nexport const handler = () => String(ModelSession);\n",
      'runtime',
    );
    expect(r.status).not.toBe(0);
    expect(r.output).toContain(
      'must not load layers/core/src/model/runtime.ts: an edge function starts no inference worker',
    );
  });
});
