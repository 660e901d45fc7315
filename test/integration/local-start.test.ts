/**
 * `npm start` as a new user meets it, as a real child process: --help and unknown flags, a busy port,
 * SIGTERM to the npm process (every child gone, every port free), the drop folder's printed scores, only
 * this run's results in the sample table, and the death of serverless-offline.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_VARS, FLAGS, portFree } from '#tools/local/options.ts';
import { freePort } from '#tools/local/stack.ts';
import { solid } from '../helpers/images.ts';
import { eventually } from '../helpers/poll.ts';
import { alive, cmdline, descendants } from '../helpers/processes.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';

const root = join(import.meta.dirname, '../..');
let dir: string;
const children: ChildProcess[] = [];

interface Run {
  child: ChildProcess;
  output: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
}

function start(command: string, args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => {
    out += c.toString();
    err += c.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    output: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, timeoutMs = 60_000) =>
      eventually(
        `${pattern} in the output:\n${out.slice(-3000)}`,
        async () =>
          pattern.test(out) ? true : child.exitCode !== null ? Promise.reject(new Error(out)) : undefined,
        timeoutMs,
      ).then(() => {}),
  };
}

const bin = (args: string[], env: Record<string, string> = {}) =>
  start(process.execPath, ['--import', 'tsx', 'tools/local/bin.ts', ...args], env);

async function stackEnv(name: string): Promise<Record<string, string>> {
  const data = join(dir, name);
  await mkdir(data, { recursive: true });
  return {
    MODEL: 'tiny',
    MODELS_DIR: join(dir, 'models'),
    MMLQ_DATA_DIR: data,
    MMLQ_SEED_DIR: join(dir, 'seed'),
    MMLQ_S3_PORT: String(await freePort()),
    MMLQ_HTTP_PORT: String(await freePort()),
    MMLQ_LAMBDA_PORT: String(await freePort()),
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mmlq-start-'));
  await writeTinyModel(join(dir, 'models'), { name: 'tiny' });
  await mkdir(join(dir, 'seed'));
  await writeFile(join(dir, 'seed', 'a.png'), await solid(40, 40, { r: 235, g: 235, b: 235 }));
  await writeFile(join(dir, 'seed', 'b.png'), await solid(40, 40, { r: 20, g: 20, b: 20 }));
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm start: the front door', () => {
  it('--help lists every flag and environment variable and exits 0', async () => {
    const run = bin(['--help']);
    expect(await run.exited).toBe(0);
    for (const f of ['--once', '--no-seed', '--wordpress', '--help']) expect(run.output()).toContain(f);
    for (const v of ENV_VARS) expect(run.output()).toContain(v.name);
    expect(FLAGS.map((f) => f.name)).toEqual(['--once', '--no-seed', '--wordpress', '--help']);
  });

  it('lists every environment variable the local stack reads', () => {
    const read = new Set<string>();
    for (const file of ['bin.ts', 'options.ts', 'redrive.ts']) {
      const text = readFileSync(join(root, 'tools/local', file), 'utf8');
      // Reads only: `env['X'] = ...` sets a variable for the stack's children.
      for (const m of text.matchAll(/env\[['"]([A-Z_]+)['"]\](?!\s*=[^=])/g)) read.add(m[1]!);
    }
    expect([...read].filter((v) => !ENV_VARS.some((e) => e.name === v))).toEqual([]);
  });

  it('an unknown flag: one line saying which, the usage, exit 2, no stack trace', async () => {
    const run = bin(['--verbose']);
    expect(await run.exited).toBe(2);
    expect(run.stderr().split('\n')[0]).toBe('error: unknown flag --verbose');
    expect(run.stderr()).toContain('Usage: npm start -- [flags]');
    expect(run.stderr()).not.toMatch(/\n\s+at /);
  });

  it('a busy port: names the port and its variable, exit 2, no stack trace', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const run = bin(['--no-seed'], { ...(await stackEnv('busy')), MMLQ_HTTP_PORT: String(port) });
      expect(await run.exited).toBe(2);
      expect(run.stderr()).toContain(`port ${port} (MMLQ_HTTP_PORT) is in use`);
      expect(run.stderr()).toContain(`MMLQ_HTTP_PORT=<port> npm start`);
      expect(run.stderr()).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});

describe('npm start: running, printing, stopping', () => {
  it('prints only results of this run in the sample table (not those an earlier run left)', async () => {
    const env = await stackEnv('stale');
    const first = bin(['--once'], env);
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/\n1\s+a\.png\s/);
    // Then the library-tiers function ranks the library once, as its schedule does.
    expect(first.output()).toMatch(/\[library-tiers\] uploads\/: 2 ranked, 2 re-tagged/);
    // Same names, swapped contents: the stored results of the first run are now stale.
    await copyFile(join(dir, 'seed', 'a.png'), join(dir, 'swap.png'));
    await copyFile(join(dir, 'seed', 'b.png'), join(dir, 'seed', 'a.png'));
    await copyFile(join(dir, 'swap.png'), join(dir, 'seed', 'b.png'));
    try {
      const second = bin(['--once'], env);
      expect(await second.exited).toBe(0);
      expect(second.output()).toMatch(/\n1\s+b\.png\s/);
      expect(second.output()).toMatch(/\n2\s+a\.png\s/);
      // The two swapped places, and on-upload already placed each against the first run's summary:
      // the schedule's run finds nothing to re-tag.
      expect(second.output()).toMatch(/\[library-tiers\] uploads\/: 2 ranked, 0 re-tagged/);
    } finally {
      await copyFile(join(dir, 'seed', 'a.png'), join(dir, 'swap.png'));
      await copyFile(join(dir, 'seed', 'b.png'), join(dir, 'seed', 'a.png'));
      await copyFile(join(dir, 'swap.png'), join(dir, 'seed', 'b.png'));
    }
  }, 120_000);

  it('prints the score of a dropped image, says a PDF is ignored; SIGTERM to npm stops every child and frees the ports', async () => {
    const env = await stackEnv('sigterm');
    const run = start('npm', ['start', '--', '--no-seed'], env);
    await run.waitFor(/local stack is up/);
    const drop = join(env['MMLQ_DATA_DIR']!, 'drop');
    await writeFile(join(drop, 'light.png'), await solid(32, 32, { r: 200, g: 200, b: 200 }));
    await writeFile(join(drop, 'report.pdf'), '%PDF-1.4 not an image');
    await run.waitFor(
      /\[drop\] light\.png {2}score \d+\.\d\d {2}std \d\.\d\d {2}pct \d+\.\d {2}\w+ {2}image/,
    );
    await run.waitFor(/\[drop\] ignored: report\.pdf \(not an image suffix: \.jpg, \.jpeg, \.png/);

    const tree = descendants(run.child.pid!);
    expect(tree.some((p) => cmdline(p).includes('offline'))).toBe(true);
    run.child.kill('SIGTERM');
    await run.exited;
    await eventually('every child gone', async () => (tree.some(alive) ? undefined : true), 15_000);
    for (const name of ['MMLQ_S3_PORT', 'MMLQ_HTTP_PORT', 'MMLQ_LAMBDA_PORT'])
      expect([name, await portFree(Number(env[name]))]).toEqual([name, true]);
  }, 120_000);

  it('exits 1 with a clear message when serverless-offline dies', async () => {
    const env = await stackEnv('offline-dies');
    const run = bin(['--no-seed'], env);
    await run.waitFor(/local stack is up/);
    const offline = descendants(run.child.pid!).find((p) => cmdline(p).includes('offline'));
    expect(offline).toBeDefined();
    process.kill(offline!, 'SIGKILL');
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toMatch(/serverless-offline exited \(SIGKILL\)/);
    for (const name of ['MMLQ_S3_PORT', 'MMLQ_HTTP_PORT', 'MMLQ_LAMBDA_PORT'])
      expect([name, await portFree(Number(env[name]))]).toEqual([name, true]);
  }, 120_000);
});
