/**
 * The inference runtime. The only module that imports onnxruntime-node.
 *
 * Sessions are created from bytes with a chosen execution provider: `cuda` when asked for and present,
 * else `cpu`, with one log line saying so; or, with `requireProvider`, a MODEL_LOAD_FAILED error that
 * says why cuda could not start (the GPU image: a CPU fallback there would deploy green and crawl). Feeds are checked against the session's input names before
 * running; a failed run reports input names, types and dims, never data.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
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
export function listedProviders(): Provider[] {
  const names = new Set(ort.listSupportedBackends().map((b) => b.name));
  return PROVIDERS.filter((p) => names.has(p));
}

/** Where onnxruntime-node keeps its native libraries for this platform; the CUDA EP must be put there. */
export function nativeLibraryDir(): string {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

/** Why cuda cannot be used here, or undefined when its provider library is installed. */
export function cudaUnavailableReason(): string | undefined {
  if (!listedProviders().includes('cuda')) return 'not in this onnxruntime-node build';
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
 *   at batch 8 x 448 px) and was not faster here, the arena reuses freed blocks instead.
 */
function sessionOptions(provider: Provider, intraOpThreads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    enableMemPattern: false,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
    intraOpNumThreads: intraOpThreadsFor(intraOpThreads),
  };
}

export class ModelSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly provider: Provider,
  ) {}

  /**
   * Creates a session on the wanted provider. For cuda, the provider libraries must be installed beside
   * onnxruntime-node (the GPU image does this); when they are not, it says so once and uses cpu.
   */
  static async create(graph: Uint8Array, source: string, options: RuntimeOptions): Promise<ModelSession> {
    const wanted = oneOf('runtime.provider', options.provider, PROVIDERS);
    if (wanted === 'cuda') {
      let reason = cudaUnavailableReason();
      let cause: unknown;
      if (reason === undefined) {
        try {
          // Severity 4 (fatal only): our own message below says why cuda was not used.
          const cuda = { ...sessionOptions('cuda', options.intraOpThreads), logSeverityLevel: 4 as const };
          return new ModelSession(await ort.InferenceSession.create(graph, cuda), 'cuda');
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
        await ort.InferenceSession.create(graph, sessionOptions('cpu', options.intraOpThreads)),
        'cpu',
      );
    } catch (error) {
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
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /**
   * The declared shape of an input: a number per fixed axis, a string per symbolic one (`N`, `H`), or
   * undefined when the graph does not say (the crop search then assumes the manifest's size is fixed).
   */
  inputShape(name: string): readonly (number | string)[] | undefined {
    const meta = this.session.inputMetadata.find((m) => m.name === name);
    return meta?.isTensor ? meta.shape : undefined;
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

  async run(feeds: Record<string, Feed>, fetches: readonly string[]): Promise<Record<string, Output>> {
    const names = Object.keys(feeds);
    const missing = this.inputNames.filter((n) => !names.includes(n));
    const unknown = names.filter((n) => !this.inputNames.includes(n));
    if (missing.length || unknown.length) {
      throw new InferenceError(
        `Expected feeds [${this.inputNames.join(', ')}] but received [${names.join(', ')}]`,
      );
    }
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, feed] of Object.entries(feeds)) {
      tensors[name] = new ort.Tensor(
        feed.data instanceof Float32Array ? 'float32' : 'int64',
        feed.data,
        feed.dims,
      );
    }
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await this.session.run(tensors, [...fetches]);
    } catch (error) {
      const shapes = Object.entries(tensors)
        .map(([n, t]) => `${n}: ${t.type}[${t.dims.join(',')}]`)
        .join(', ');
      throw new InferenceError(
        `onnxruntime failed to run the graph with ${shapes}: ${(error as Error).message}`,
        { cause: error },
      );
    } finally {
      for (const t of Object.values(tensors)) t.dispose();
    }
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
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function firstLine(error: unknown): string {
  return ((error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '').trim();
}
