import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { InferenceError } from '#core/common/errors.ts';
import { DEFAULT_MODEL, DEFAULT_MODELS_DIR, loadModel, unloadAll } from '#core/model/registry.ts';
import { type Feed, ModelSession } from '#core/model/runtime.ts';
import { crashInferenceWorker } from '../helpers/crash.ts';
import { buildGraph } from '../helpers/tiny-model.ts';

/** The threads this process has now (Linux: one entry per thread). */
const threadCount = () => readdirSync('/proc/self/task').length;

/** How many threads creating a session adds: onnxruntime starts its intra-op pool (n - 1 threads) there. */
async function threadsAddedBy(intraOpThreads: number): Promise<number> {
  const graph = buildGraph({ text: false });
  const before = threadCount();
  const session = await ModelSession.create(graph, 'tiny', {
    provider: 'cpu',
    intraOpThreads,
    log: () => {},
  });
  const added = threadCount() - before;
  await session.release();
  return added;
}

describe('ModelSession threads', () => {
  it('runs one intra-op thread per available core by default (0), as many as asked otherwise', async () => {
    await readFile(import.meta.filename); // libuv's pool starts on first use: not during the counts
    await threadsAddedBy(1); // so does onnxruntime's own first-session thread
    const one = await threadsAddedBy(1);
    const two = await threadsAddedBy(2);
    const byDefault = await threadsAddedBy(0);
    expect(two - one).toBe(1);
    // onnxruntime's own default counts physical cores from cpuid: on a 2-vCPU VM it ran one thread
    // (54-65 ms per image at batch 8 instead of 33). Ours is what the process may use.
    expect(byDefault - one).toBe(availableParallelism() - 1);
  });
});

/** All-zero feeds for a batch of `n` for the default model (its real graph and size). */
async function defaultModelBatch(n: number) {
  const model = await loadModel(DEFAULT_MODEL, {
    modelsDir: DEFAULT_MODELS_DIR,
    provider: 'cpu',
    intraOpThreads: 0,
    verify: false,
    log: () => {},
  });
  const { image, text } = model.manifest.inputs;
  const feeds = (): Record<string, Feed> => {
    const f: Record<string, Feed> = {
      [image.name]: {
        data: new Float32Array(n * 3 * image.height * image.width),
        dims: [n, 3, image.height, image.width],
      },
    };
    if (text) {
      f[text.idsName] = { data: new BigInt64Array(n * text.maxTokens), dims: [n, text.maxTokens] };
      f[text.maskName] = { data: new BigInt64Array(n * text.maxTokens), dims: [n, text.maxTokens] };
    }
    return f;
  };
  return { session: model.session, feeds, fetches: [model.manifest.outputs.distribution.name] };
}

/** How many event-loop turns (up to `max`) this thread gets before `work` settles. */
async function turnsDuring(work: Promise<unknown>, max: number): Promise<number> {
  let settled = false;
  const done = work.finally(() => {
    settled = true;
  });
  let turns = 0;
  while (!settled && turns < max) {
    await new Promise((resolve) => setImmediate(resolve));
    if (!settled) turns++;
  }
  await done;
  return turns;
}

describe('ModelSession runs', () => {
  afterAll(unloadAll);

  it('leaves the event loop free while a batch of 8 of the default model runs', async () => {
    const { session, feeds, fetches } = await defaultModelBatch(8);
    await session.run(feeds(), fetches); // warm-up: the first run allocates the arena
    // onnxruntime-node runs a graph synchronously on the calling thread: on the main thread not one
    // turn passed before the run settled, so no request, health check or decode hand-off either.
    expect(await turnsDuring(session.run(feeds(), fetches), 20)).toBe(20);
    expect(await turnsDuring(session.runMoving(feeds(), fetches), 20)).toBe(20);
  });

  it('moves the feeds to the worker and hands the same buffers back, offsets and lengths kept', async () => {
    const { session, feeds, fetches } = await defaultModelBatch(2);
    const copied = feeds();
    const moved = feeds();
    const [name, pixels] = Object.entries(moved)[0]!;
    // A batch tensor is a view on a pooled buffer: a part of it moves with the whole buffer.
    const pool = new Float32Array(pixels.data.length + 7);
    pool.fill(0.25);
    const view = pool.subarray(7);
    moved[name] = { data: view, dims: pixels.dims };
    copied[name] = { data: view.slice(), dims: pixels.dims };
    const want = await session.run(copied, fetches);
    expect(copied[name]!.data.length).toBe(view.length); // run copies: the caller's arrays stay

    const length = view.length;
    const got = await session.runMoving(moved, fetches);
    expect(pool.length).toBe(0); // moved: detached here
    expect(view.length).toBe(0);
    const back = got.feeds[name] as Float32Array;
    expect(back.byteOffset).toBe(7 * 4);
    expect(back.length).toBe(length);
    expect(new Float32Array(back.buffer)[0]).toBe(0.25);
    expect(Object.keys(got.feeds).sort()).toEqual(Object.keys(moved).sort());
    expect([...got.outputs[fetches[0]!]!.data]).toEqual([...want[fetches[0]!]!.data]);
    expect(got.outputs[fetches[0]!]!.dims).toEqual(want[fetches[0]!]!.dims);
  });

  it('rejects a pending run with INFERENCE_FAILED when its worker dies, and starts a new worker for the next run', async () => {
    const graph = buildGraph({ text: false });
    const logs: string[] = [];
    const session = await ModelSession.create(graph, 'tiny', {
      provider: 'cpu',
      intraOpThreads: 1,
      log: (m) => logs.push(m),
    });
    const feeds = { pixel_values: { data: new Float32Array(3 * 8 * 8).fill(0.5), dims: [1, 3, 8, 8] } };
    const fetches = [session.outputNames[0]!];
    const want = await session.run(feeds, fetches);
    const kill = () => crashInferenceWorker(session);
    // A run sent as the worker ends: pending when it exits.
    const error = await crashInferenceWorker(session, () =>
      session.run(feeds, fetches).catch((e: unknown) => e),
    );
    expect(error).toBeInstanceOf(InferenceError);
    expect((error as InferenceError).code).toBe('INFERENCE_FAILED');
    expect((error as Error).message).toMatch(/^The inference worker stopped unexpectedly \(exit code \d+\)$/);
    // A long-running scorer must not stay broken: the next runs get a new worker and the same answers.
    const [again, concurrent] = await Promise.all([session.run(feeds, fetches), session.run(feeds, fetches)]);
    expect([...again[fetches[0]!]!.data]).toEqual([...want[fetches[0]!]!.data]);
    expect([...concurrent[fetches[0]!]!.data]).toEqual([...want[fetches[0]!]!.data]);
    expect(session.restarts).toBe(1);
    expect(logs).toEqual([
      'The inference worker of tiny stopped (The inference worker stopped unexpectedly (exit code 1)); starting a new one',
    ]);
    await session.release();
    await expect(session.run(feeds, fetches)).rejects.toThrow('The model session was released');
    await kill(); // a released session is not revived
    await expect(session.run(feeds, fetches)).rejects.toThrow('The model session was released');
    expect(session.restarts).toBe(1);
  });

  it('ends its worker thread on release', async () => {
    const graph = buildGraph({ text: false });
    await threadsAddedBy(1); // onnxruntime's first-session threads are started once
    const before = threadCount();
    const session = await ModelSession.create(graph, 'tiny', {
      provider: 'cpu',
      intraOpThreads: 2,
      log: () => {},
    });
    expect(threadCount()).toBeGreaterThan(before);
    await session.release();
    expect(threadCount()).toBe(before);
    await expect(
      session.run({ pixel_values: { data: new Float32Array(3 * 8 * 8), dims: [1, 3, 8, 8] } }, [
        'distribution',
      ]),
    ).rejects.toThrow('The model session was released');
  });
});
