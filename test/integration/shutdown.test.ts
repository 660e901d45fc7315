/**
 * Stopping a process while onnxruntime runs, as real processes (the default model, runs long enough to
 * be caught in): the process ends the way it says it will, never by an abort. A worker thread ended
 * inside onnxruntime-node's native run (which `process.exit()` does to every worker thread) aborts the
 * whole process with "terminate called after throwing an instance of 'Napi::Error'" (SIGABRT, exit 134).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patternJpeg } from '../helpers/images.ts';
import { nodeRelease } from '../helpers/node-release.ts';

const ROOT = process.cwd();
const ABORTED = /terminate called|FATAL ERROR|Napi::Error/;

interface Run {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the first match of `pattern` in stdout + stderr. */
  waitFor: (pattern: RegExp) => Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}, node = process.execPath): Run {
  const child = spawn(node, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on('data', (chunk: Buffer) => {
      output += chunk;
      for (const w of [...waiters]) {
        const m = output.match(w.pattern);
        if (m) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
  }
  return {
    child,
    output: () => output,
    exited,
    waitFor: (pattern) => {
      const m = output.match(pattern);
      if (m) return Promise.resolve(m);
      return Promise.race([
        new Promise<RegExpMatchArray>((resolve) => waiters.push({ pattern, resolve })),
        exited.then(({ code, signal }) => {
          throw new Error(`exited (${code ?? signal}) before ${pattern}:\n${output}`);
        }),
      ]);
    },
  };
}

describe('a second Ctrl-C while the model runs (cli/interrupts.ts, as the CLI wires it)', () => {
  it('ends the process by SIGINT at once, not by an abort', { timeout: 120_000 }, async () => {
    const p = run(['test/helpers/sigint-child.ts', join(ROOT, 'test/fixtures/samples/rocket.jpg')]);
    await p.waitFor(/batch 1\n/);
    p.child.kill('SIGINT');
    await p.waitFor(/stopping after the current image/);
    // It goes on scoring (a stand-in for "the current image"); the next batch starts as one is printed.
    const seen = (await p.waitFor(/batch (\d+)\n(?![\s\S]*batch)/))[1];
    await p.waitFor(new RegExp(`batch ${Number(seen) + 1}\\n`));
    await new Promise((r) => setTimeout(r, 40)); // decoded by now: inside the run of the next batch
    p.child.kill('SIGINT');
    const { code, signal } = await p.exited;
    expect(p.output()).not.toMatch(ABORTED);
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGINT' });
  });
});

describe('SIGTERM to the HTTP scorer (functions/scorer/server.ts) while a batch runs', () => {
  let images: Server;
  let origin: string;
  let served = 0;

  beforeAll(async () => {
    const jpeg = await patternJpeg(1024, 768);
    images = createServer((_req, res) => {
      served++;
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
    });
    images.listen(0, '127.0.0.1');
    await once(images, 'listening');
    origin = `http://127.0.0.1:${(images.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => images.close(() => r())));

  /**
   * The HTTP scorer on the Node the GPU image runs (functions/scorer/Dockerfile.gpu: node:24; the abort is
   * the same there), `preload` imported first, with a batch of 64 images of 1024 px sent (two runs of 32,
   * ~1 s each here) and well inside the first run.
   */
  async function scorerInRun(preload: string[] = []) {
    served = 0;
    const p = run(
      [...preload, 'functions/scorer/server.ts'],
      {
        HOST: '127.0.0.1',
        PORT: '0',
        AWS_REGION: 'eu-west-1',
        MAX_BATCH_ITEMS: '32',
        URL_ALLOWED_ORIGINS: origin,
        URL_ALLOW_PRIVATE_NETWORKS: 'true',
      },
      nodeRelease(24).node,
    );
    const url = (await p.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)"/))[1]!;
    const client = new AbortController();
    const items = Array.from({ length: 64 }, (_, i) => ({
      id: String(i),
      image: { url: `${origin}/${i}.jpg` },
    }));
    const answered = fetch(`${url}/v1/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items }),
      signal: client.signal,
    }).catch((e: unknown) => e);
    while (served < 64) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 600));
    return { p, client, answered };
  }

  it('finishes the run its gone client started, releases the model and exits 0', {
    timeout: 180_000,
  }, async () => {
    const { p, client, answered } = await scorerInRun();
    // The client leaves (its connection closes: nothing holds server.close() back) and the platform
    // stops the task.
    client.abort();
    expect(await answered).toBeInstanceOf(Error);
    p.child.kill('SIGTERM');
    const { code, signal } = await p.exited;
    expect(p.output()).not.toMatch(ABORTED);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(p.output()).toContain('"message":"shutting down"');
  });

  it('an exception nothing catches: logged with its stack, the model released, exit 1 (not an abort)', {
    timeout: 180_000,
  }, async () => {
    const { p, answered } = await scorerInRun(['--import', './test/helpers/uncaught-on-signal.ts']);
    p.child.kill('SIGUSR2');
    const { code, signal } = await p.exited;
    expect(p.output()).not.toMatch(ABORTED);
    expect({ code, signal }).toEqual({ code: 1, signal: null });
    const logged = p
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; message: string; error?: string });
    expect(logged.find((l) => l.message === 'uncaught exception: stopping')).toMatchObject({
      level: 'ERROR',
      error: expect.stringMatching(/^Error: test: an exception nothing catches\n\s+at /),
    });
    // Its client loses the connection (and retries elsewhere): no answer made up for it.
    expect(await answered).toBeInstanceOf(Error);
  });
});
