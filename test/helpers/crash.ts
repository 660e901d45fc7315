/** Ends a model session's inference worker thread from outside, as a crash would (it is private to the session). */
import type { ModelSession } from '#core/model/runtime.ts';

interface Inside {
  worker: { thread: { terminate(): Promise<number> }; pending: Map<number, unknown> };
}

/**
 * Waits until the worker has no request in flight, asks it to terminate, then starts `meanwhile` (so
 * the requests it sends are pending when the thread exits) and resolves with what `meanwhile` settles
 * to.
 *
 * Never while a run is in flight: a worker thread terminated inside onnxruntime-node's native run
 * aborts the whole process ("terminate called after throwing an instance of 'Napi::Error'", or
 * "FATAL ERROR: Error::Error napi_define_properties"; this is how a CI run lost a test file). No
 * worker death this helper stands for happens there: a worker dies of a JavaScript error, between runs.
 */
export async function crashInferenceWorker<T = undefined>(
  session: ModelSession,
  meanwhile?: () => Promise<T>,
): Promise<T | undefined> {
  const { worker } = session as unknown as Inside;
  while (worker.pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 1));
  const exited = worker.thread.terminate();
  const during = meanwhile?.().then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  await exited;
  const outcome = await during;
  if (!outcome) return undefined;
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}
