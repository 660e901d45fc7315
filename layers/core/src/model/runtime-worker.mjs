// @ts-check
/**
 * The inference thread: owns the one onnxruntime-node session of a `ModelSession` (runtime.ts), so that
 * a run, which onnxruntime-node 1.30 executes synchronously on the thread that calls it, blocks this
 * worker and not the process's main thread (HTTP accept and parsing, health checks, the next batch's
 * decodes and pre-processing go on while a batch runs).
 *
 * A thin RPC with no policy: runtime.ts chooses the provider, the options and the fallback, and turns
 * every failure into the typed errors of common/errors.ts. Requests are handled one at a time in the
 * order they came (a release never frees a session a queued run still needs). Every reply carries the
 * request's id; a run's reply also hands back the feed buffers it was given (transferred, not copied), so
 * the caller can reuse its pooled tensors.
 *
 * Plain JavaScript (ESM with JSDoc types) on purpose: a Worker starts from a file Node can load as is,
 * and Node 20 (package.json "engines") cannot load a .ts file without a loader. As plain .mjs the same
 * file runs from the sources (tsx, vitest) and beside each bundle (tools/build-functions.ts copies it
 * next to every bundle that contains runtime.ts; `new URL('./runtime-worker.mjs', import.meta.url)`
 * finds it there).
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

/**
 * @typedef {{ data: Float32Array | BigInt64Array; dims: number[] }} WireFeed
 * @typedef {{ id: number; op: 'backends' }
 *   | { id: number; op: 'create'; graph: Uint8Array; options: ort.InferenceSession.SessionOptions }
 *   | { id: number; op: 'run'; feeds: Record<string, WireFeed>; fetches: string[] }
 *   | { id: number; op: 'release' }} Request
 */

if (!parentPort) throw new Error('runtime-worker.mjs must be started as a worker thread (runtime.ts does)');
const port = parentPort;

/** @type {ort.InferenceSession | undefined} */
let session;

/** @param {Request} request */
async function handle(request) {
  switch (request.op) {
    case 'backends':
      return { names: ort.listSupportedBackends().map((b) => b.name) };
    case 'create': {
      if (session) throw new Error('this worker already holds a session');
      session = await ort.InferenceSession.create(request.graph, request.options);
      return {
        inputNames: [...session.inputNames],
        outputNames: [...session.outputNames],
        inputs: session.inputMetadata.map((m) =>
          m.isTensor ? { name: m.name, shape: [...m.shape] } : { name: m.name, shape: undefined },
        ),
      };
    }
    case 'run': {
      if (!session) throw new Error('no session: create one first');
      /** @type {Record<string, ort.Tensor>} */
      const tensors = {};
      for (const [name, feed] of Object.entries(request.feeds)) {
        tensors[name] = new ort.Tensor(
          feed.data instanceof Float32Array ? 'float32' : 'int64',
          feed.data,
          feed.dims,
        );
      }
      try {
        const results = await session.run(tensors, request.fetches);
        /** @type {Record<string, { type: string; data: unknown; dims: readonly number[] } | undefined>} */
        const outputs = {};
        for (const name of request.fetches) {
          const t = results[name];
          outputs[name] = t ? { type: t.type, data: t.data, dims: t.dims } : undefined;
        }
        return { outputs };
      } finally {
        for (const t of Object.values(tensors)) t.dispose();
      }
    }
    case 'release':
      await session?.release();
      session = undefined;
      return {};
  }
}

/**
 * The buffers of a run's feeds, each once: they go back to the caller with the reply, moved.
 * @param {Request} request
 * @returns {ArrayBuffer[]}
 */
function feedBuffers(request) {
  if (request.op !== 'run') return [];
  const buffers = new Set(Object.values(request.feeds).map((f) => f.data.buffer));
  return /** @type {ArrayBuffer[]} */ ([...buffers].filter((b) => b instanceof ArrayBuffer));
}

let queue = Promise.resolve();
port.on('message', (/** @type {Request} */ request) => {
  queue = queue.then(async () => {
    const returned = feedBuffers(request);
    try {
      const result = await handle(request);
      port.postMessage({ id: request.id, ok: true, result, returned }, returned);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const name = error instanceof Error ? error.name : 'Error';
      port.postMessage({ id: request.id, ok: false, error: { name, message }, returned }, returned);
    }
  });
});
