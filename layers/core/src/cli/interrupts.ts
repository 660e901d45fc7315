/**
 * Ctrl-C for a command that stops cleanly (wordpress backfill): the first SIGINT aborts the returned
 * signal, so the command finishes the image at hand and keeps its place; a second one quits at once.
 *
 * "At once" is SIGINT's own default action, raised again, never `process.exit()`: an exit runs Node's
 * teardown, which ends the inference worker thread (model/runtime.ts), and a worker thread ended inside
 * onnxruntime-node's native run aborts the whole process ("terminate called after throwing an instance
 * of 'Napi::Error'", SIGABRT, where a shell expects 130). Killed by the signal, the process ends as
 * Ctrl-C always ends a program, with nothing half torn down.
 */
export function stopOnSigint(say: (text: string) => void): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (!controller.signal.aborted) {
      controller.abort();
      say('\nstopping after the current image (Ctrl-C again to quit at once)\n');
      return;
    }
    process.off('SIGINT', onSigint);
    // With no listener left Node restores the default action, which ends the process by the signal.
    if (process.listenerCount('SIGINT') === 0) process.kill(process.pid, 'SIGINT');
    else process.exit(130); // someone else listens: the default action cannot be had
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onSigint) };
}
