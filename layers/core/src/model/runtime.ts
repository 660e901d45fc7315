/**
 * The inference runtime: the only module that starts onnxruntime-node, and it does so in a worker thread
 * (runtime-worker.mjs, the only file that imports the package). onnxruntime-node 1.30 runs a graph
 * synchronously on the thread that calls `run`: on the main thread a batch of 8 blocked the event loop
 * for ~250 ms (no HTTP accept, no health check, no decode hand-off meanwhile). Each `ModelSession` owns
 * one worker that owns its session; feeds go over as transferable buffers (`runMoving`) or copies (`run`).
 *
 * Sessions are created from bytes with a chosen execution provider: `cuda` when asked for and present,
 * else `cpu`, with one log line saying so; or, with `requireProvider`, a MODEL_LOAD_FAILED error that
 * says why cuda could not start (the GPU image: a CPU fallback there would deploy green and crawl). Feeds are checked against the session's input names before
 * running; a failed run reports input names, types and dims, never data. A worker that dies rejects
 * its pending runs with INFERENCE_FAILED, and the next run starts a new one (same graph and options,
 * one log line); `release()` ends the worker.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { InferenceError, ModelError } from '../common/errors.ts';
import { oneOf } from '../common/validate.ts';

export const PROVIDERS = ['cpu', 'cuda'] as const;
export type Provider = (typeof PROVIDERS)[number];

export interface RuntimeOptions {
  /** Preferred execution provider; falls back to cpu when not available (unless `requireProvider`). */
  provider: Provider;
  /** Fail instead of falling back to cpu when `provider` cannot start (default false). */
  requireProvider?: boolean;
  /** Threads inside one operator (0 = one per core this process may use: `intraOpThreadsFor`). */
  intraOpThreads: number;
  /** Where fallback notices go. */
  log: (message: string) => void;
}

export type TensorData = Float32Array | BigInt64Array;

export interface Feed {
  data: TensorData;
  dims: readonly number[];
}

export interface Output {
  data: Float32Array;
  dims: readonly number[];
}

/** Execution providers this onnxruntime-node build lists (cuda is listed even when its libraries are absent). */
async function providersOf(worker: RuntimeWorker): Promise<Provider[]> {
  const { names } = (await worker.call({ op: 'backends' })) as { names: string[] };
  return PROVIDERS.filter((p) => names.includes(p));
}

/** Where onnxruntime-node keeps its native libraries for this platform; the CUDA EP must be put there. */
export function nativeLibraryDir(): string {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

/** Why cuda cannot be used here, or undefined when its provider library is installed. */
async function cudaUnavailableReason(worker: RuntimeWorker): Promise<string | undefined> {
  if (!(await providersOf(worker)).includes('cuda')) return 'not in this onnxruntime-node build';
  const library = join(nativeLibraryDir(), 'libonnxruntime_providers_cuda.so');
  return existsSync(library) ? undefined : `its provider library ${library} is not installed`;
}

/**
 * The intra-op threads a session runs: `requested`, or for 0 one per core this process may use
 * (`os.availableParallelism()`: the CPU affinity count, e.g. a Lambda's vCPUs). Never onnxruntime's own
 * default: it counts physical cores from cpuid and on a 2-vCPU VM ran ONE thread (measured: 54-65 ms per
 * image at batch 8 instead of 33 with two; test/unit/runtime.test.ts counts the threads).
 */
export function intraOpThreadsFor(requested: number): number {
  return requested > 0 ? requested : availableParallelism();
}

/**
 * Session options for scoring, where image decoding (libvips threads) runs beside inference:
 * - intra-op threads do not spin while waiting for work (`allow_spinning` 0): a spinning thread burns
 *   the core a decode needs; measured on 2 shared cores, the same or less wall time for less CPU;
 * - the CPU arena stays (without it every run pays fresh page faults: ~4x slower), but no memory
 *   pattern: the pattern pre-plans one block for a whole batch's activations (~380 MiB more peak RSS
 *   at batch 8 x 448 px) and was not faster here, the arena reuses freed blocks instead;
 * - on cuda, onnxruntime logs fatal errors only (severity 4): our own message says why cuda was not used.
 */
function sessionOptions(provider: Provider, intraOpThreads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    ...(provider === 'cuda' ? { logSeverityLevel: 4 as const } : {}),
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    enableMemPattern: false,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
    intraOpNumThreads: intraOpThreadsFor(intraOpThreads),
  };
}

/**
 * An inference thread started before its model's bytes are read: the thread loads onnxruntime-node
 * (~200-300 ms on this machine) while the caller reads and verifies the model files (~160-190 ms for
 * the default model), instead of after. Hand it to `ModelSession.create`, or `discard()` it when the
 * load fails before that; either is safe to do twice.
 */
export class PrestartedRuntime {
  private worker: RuntimeWorker | undefined = new RuntimeWorker();

  /** The thread, once: a second create gets a fresh one. */
  take(): RuntimeWorker | undefined {
    const worker = this.worker;
    this.worker = undefined;
    return worker;
  }

  /** Ends the thread if no session took it. */
  async discard(): Promise<void> {
    await this.take()?.stop();
  }
}

/** What a session's worker tells about its graph. */
interface GraphInfo {
  inputNames: string[];
  outputNames: string[];
  inputs: { name: string; shape: (number | string)[] | undefined }[];
}

type WireOutput = { type: string; data: unknown; dims: number[] } | undefined;

export class ModelSession {
  /** Workers started again after the one before died (a long-running scorer heals, see `exchange`). */
  restarts = 0;
  private revival: Promise<void> | undefined;
  private released = false;

  private constructor(
    private worker: RuntimeWorker,
    private readonly graph: GraphInfo,
    readonly provider: Provider,
    private readonly restart: {
      source: string;
      options: RuntimeOptions;
      reload: () => Promise<Uint8Array>;
    },
  ) {}

  /**
   * Creates a session on the wanted provider, in a worker thread of its own. For cuda, the provider
   * libraries must be installed beside onnxruntime-node (the GPU image does this); when they are not, it
   * says so once and uses cpu.
   */
  static async create(
    graph: Uint8Array,
    source: string,
    options: RuntimeOptions,
    extras: {
      /** A thread started earlier (see PrestartedRuntime). */
      prestarted?: PrestartedRuntime;
      /**
       * How to get the graph again should the worker die (e.g. read the file): without it the session
       * keeps `graph` in memory for that (a few MB for the default model, GBs for the paper-size one).
       */
      reload?: () => Promise<Uint8Array>;
    } = {},
  ): Promise<ModelSession> {
    const wanted = oneOf('runtime.provider', options.provider, PROVIDERS);
    const worker = extras.prestarted?.take() ?? new RuntimeWorker();
    const reload = extras.reload ?? (() => Promise.resolve(graph));
    try {
      return await ModelSession.start(worker, graph, { source, options, reload }, wanted);
    } catch (error) {
      await worker.stop();
      // The thread itself failed (e.g. runtime-worker.mjs missing beside a bundle): a load failure.
      if (error instanceof InferenceError) {
        throw new ModelError('MODEL_LOAD_FAILED', `Could not load ${source}: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  private static async start(
    worker: RuntimeWorker,
    graph: Uint8Array,
    restart: ModelSession['restart'],
    wanted: Provider,
  ): Promise<ModelSession> {
    const { source, options } = restart;
    if (wanted === 'cuda') {
      let reason = await cudaUnavailableReason(worker);
      let cause: unknown;
      if (reason === undefined) {
        try {
          const cuda = sessionOptions('cuda', options.intraOpThreads);
          return new ModelSession(worker, await worker.create(graph, cuda), 'cuda', restart);
        } catch (error) {
          // e.g. "libcublasLt.so.12: cannot open shared object file": names the missing CUDA library.
          reason = `it could not start: ${firstLine(error)}`;
          cause = error;
        }
      }
      if (options.requireProvider) {
        throw new ModelError(
          'MODEL_LOAD_FAILED',
          `Execution provider cuda is required but unavailable (${reason}); not falling back to cpu`,
          { cause },
        );
      }
      options.log(`Execution provider cuda is unavailable (${reason}); falling back to cpu`);
    }
    try {
      return new ModelSession(
        worker,
        await worker.create(graph, sessionOptions('cpu', options.intraOpThreads)),
        'cpu',
        restart,
      );
    } catch (error) {
      if (error instanceof InferenceError) throw error; // the worker died: create() says so
      throw new ModelError(
        'MODEL_LOAD_FAILED',
        `Expected a valid ONNX graph in ${source} but onnxruntime refused it: ${firstLine(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  get inputNames(): readonly string[] {
    return this.graph.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.graph.outputNames;
  }

  /**
   * The declared shape of an input: a number per fixed axis, a string per symbolic one (`N`, `H`), or
   * undefined when the graph does not say (the crop search then assumes the manifest's size is fixed).
   */
  inputShape(name: string): readonly (number | string)[] | undefined {
    return this.graph.inputs.find((m) => m.name === name)?.shape;
  }

  /** Checks that the graph has every input and output the manifest names. */
  assertSignature(inputs: readonly string[], outputs: readonly string[], source: string): void {
    const missingIn = inputs.filter((n) => !this.inputNames.includes(n));
    const missingOut = outputs.filter((n) => !this.outputNames.includes(n));
    const extraIn = this.inputNames.filter((n) => !inputs.includes(n));
    if (missingIn.length || missingOut.length || extraIn.length) {
      throw new ModelError(
        'MANIFEST_INVALID',
        `Manifest of ${source} does not match its graph: expected inputs [${inputs.join(', ')}] and outputs including [${outputs.join(', ')}] but the graph has inputs [${this.inputNames.join(', ')}] and outputs [${this.outputNames.join(', ')}]`,
      );
    }
  }

  /** Runs the graph on copies of the feeds: the caller's arrays stay as they are. */
  async run(feeds: Record<string, Feed>, fetches: readonly string[]): Promise<Record<string, Output>> {
    return (await this.exchange(feeds, fetches, false)).outputs;
  }

  /**
   * Runs the graph without copying the feeds: their buffers move to the worker (every array on them is
   * detached here, length 0, from this call on) and come back with the result as `feeds`, same offsets
   * and lengths, for the caller to reuse. When the run fails they do not come back: a pool must then
   * drop them (a detached array must never be reused).
   */
  async runMoving(
    feeds: Record<string, Feed>,
    fetches: readonly string[],
  ): Promise<{ outputs: Record<string, Output>; feeds: Record<string, TensorData> }> {
    return this.exchange(feeds, fetches, true);
  }

  private async exchange(
    feeds: Record<string, Feed>,
    fetches: readonly string[],
    move: boolean,
  ): Promise<{ outputs: Record<string, Output>; feeds: Record<string, TensorData> }> {
    const names = Object.keys(feeds);
    const missing = this.inputNames.filter((n) => !names.includes(n));
    const unknown = names.filter((n) => !this.inputNames.includes(n));
    if (missing.length || unknown.length) {
      throw new InferenceError(
        `Expected feeds [${this.inputNames.join(', ')}] but received [${names.join(', ')}]`,
      );
    }
    // Read before the buffers move: a detached array reports length 0.
    const shapes = Object.entries(feeds)
      .map(([n, f]) => `${n}: ${f.data instanceof Float32Array ? 'float32' : 'int64'}[${f.dims.join(',')}]`)
      .join(', ');
    const wire = Object.fromEntries(
      Object.entries(feeds).map(([n, f]) => [n, { data: f.data, dims: [...f.dims] }]),
    );
    // Moved: each distinct buffer once; the worker sends them back in the same order.
    const transfer = move ? [...new Set(Object.values(feeds).map((f) => f.data.buffer as ArrayBuffer))] : [];
    const views = Object.entries(feeds).map(([name, { data }]) => {
      const { byteOffset, length } = data; // a detached array reports 0 for both
      return {
        name,
        make: (buffer: ArrayBuffer): TensorData =>
          data instanceof Float32Array
            ? new Float32Array(buffer, byteOffset, length)
            : new BigInt64Array(buffer, byteOffset, length),
        slot: transfer.indexOf(data.buffer as ArrayBuffer),
      };
    });
    // Its own typed errors (the graph file changed: MODEL_FILE_MISMATCH), not "failed to run".
    if (this.worker.dead && !this.released) await this.revive(this.worker.dead);
    let reply: { result: unknown; returned: ArrayBuffer[] };
    try {
      reply = await this.worker.request({ op: 'run', feeds: wire, fetches: [...fetches] }, transfer);
    } catch (error) {
      if (error instanceof InferenceError) throw error;
      throw new InferenceError(
        `onnxruntime failed to run the graph with ${shapes}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const back: Record<string, TensorData> = {};
    for (const v of views) if (v.slot >= 0) back[v.name] = v.make(reply.returned[v.slot]!);
    const results = (reply.result as { outputs: Record<string, WireOutput> }).outputs;
    const out: Record<string, Output> = {};
    for (const name of fetches) {
      const t = results[name];
      if (t?.type !== 'float32') {
        throw new InferenceError(
          `Expected float32 output ${name} but the graph returned ${t ? t.type : 'nothing'}`,
        );
      }
      out[name] = { data: t.data as Float32Array, dims: t.dims };
    }
    return { outputs: out, feeds: back };
  }

  /** Releases the session and ends its worker. */
  async release(): Promise<void> {
    this.released = true;
    await this.revival?.catch(() => undefined);
    await this.worker.stop();
  }

  /**
   * A new worker with the same graph and options after the last one died (its pending runs failed
   * with INFERENCE_FAILED; nothing else is lost): without this a long-running scorer (the HTTP service,
   * a warm Lambda) would fail every later batch until replaced. Concurrent runs share one restart; a
   * restart that fails fails the run that asked for it, and the next run tries again.
   */
  private revive(cause: InferenceError): Promise<void> {
    this.revival ??= (async () => {
      const { source, options, reload } = this.restart;
      options.log(`The inference worker of ${source} stopped (${cause.message}); starting a new one`);
      const worker = new RuntimeWorker();
      try {
        await worker.create(await reload(), sessionOptions(this.provider, options.intraOpThreads));
      } catch (error) {
        await worker.stop();
        throw error instanceof InferenceError || error instanceof ModelError
          ? error
          : new InferenceError(`Could not start a new inference worker for ${source}: ${firstLine(error)}`, {
              cause: error,
            });
      }
      if (this.released) {
        await worker.stop();
        return;
      }
      this.worker = worker;
      this.restarts++;
    })().finally(() => {
      this.revival = undefined;
    });
    return this.revival;
  }
}

type Request =
  | { op: 'backends' }
  | { op: 'create'; graph: Uint8Array; options: ort.InferenceSession.SessionOptions }
  | { op: 'run'; feeds: Record<string, { data: TensorData; dims: number[] }>; fetches: string[] }
  | { op: 'release' };

type Reply =
  | { id: number; ok: true; result: unknown; returned: ArrayBuffer[] }
  | { id: number; ok: false; error: { name: string; message: string }; returned: ArrayBuffer[] };

/**
 * One worker thread running runtime-worker.mjs, and the requests waiting for its replies. It holds the
 * process open only while a request is pending (a CLI exits when its work is done even if nobody
 * released the session); when it dies, every pending and later request fails with INFERENCE_FAILED.
 */
class RuntimeWorker {
  private readonly thread: Worker;
  private readonly pending = new Map<
    number,
    { resolve: (reply: Reply & { ok: true }) => void; reject: (error: Error) => void }
  >();
  private nextId = 1;
  private died: InferenceError | undefined;
  private stopping = false;

  /** Why the thread ended, when it died (not when it was stopped). */
  get dead(): InferenceError | undefined {
    return this.died;
  }

  constructor() {
    // No execArgv: the worker is plain JavaScript and needs none of the parent's loaders (tsx, vitest).
    this.thread = new Worker(new URL('./runtime-worker.mjs', import.meta.url), { execArgv: [] });
    this.thread.unref();
    this.thread.on('message', (reply: Reply) => this.settle(reply));
    this.thread.on('error', (error) =>
      this.die(new InferenceError(`The inference worker failed: ${firstLine(error)}`, { cause: error })),
    );
    this.thread.on('exit', (code) => {
      if (!this.stopping)
        this.die(new InferenceError(`The inference worker stopped unexpectedly (exit code ${code})`));
    });
  }

  /** Sends a request; resolves with its reply, rejects with the worker's error (an Error with its message). */
  request(request: Request, transfer: ArrayBuffer[] = []): Promise<Reply & { ok: true }> {
    if (this.died) return Promise.reject(this.died);
    if (this.stopping) return Promise.reject(new InferenceError('The model session was released'));
    const id = this.nextId++;
    const reply = new Promise<Reply & { ok: true }>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
    });
    if (this.pending.size === 1) this.thread.ref();
    try {
      this.thread.postMessage({ id, ...request }, transfer);
    } catch (error) {
      // e.g. a buffer that cannot be transferred: nothing was sent
      this.forget(id);
      return Promise.reject(error);
    }
    return reply;
  }

  async call(request: Request): Promise<unknown> {
    return (await this.request(request)).result;
  }

  async create(graph: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<GraphInfo> {
    return (await this.call({ op: 'create', graph, options })) as GraphInfo;
  }

  /** Releases the session (after the runs already sent) and ends the thread. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    if (!this.died) {
      try {
        await this.call({ op: 'release' });
      } catch {
        // a dead or failing worker is ended below all the same
      }
    }
    this.stopping = true;
    await this.thread.terminate();
  }

  private settle(reply: Reply): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.forget(reply.id);
    if (reply.ok) waiting.resolve(reply);
    else waiting.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name }));
  }

  private die(error: InferenceError): void {
    this.died ??= error;
    for (const [id, waiting] of [...this.pending]) {
      this.forget(id);
      waiting.reject(this.died);
    }
  }

  private forget(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.thread.unref();
  }
}

function firstLine(error: unknown): string {
  return ((error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '').trim();
}
