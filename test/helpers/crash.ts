/** Ends a model session's inference worker thread from outside, as a crash would (it is private to the session). */
import type { ModelSession } from '#core/model/runtime.ts';

export async function crashInferenceWorker(session: ModelSession): Promise<void> {
  await (
    session as unknown as { worker: { thread: { terminate(): Promise<number> } } }
  ).worker.thread.terminate();
}
