/**
 * scorer (HTTP entry point for GPU hosts): `node server.mjs` in the GPU image, or `npm run scorer:http`.
 * Configured by the same environment as the Lambda handler plus HOST, PORT, BATCH_WINDOW_MS,
 * MAX_BATCH_ITEMS and MAX_QUEUED_ITEMS. PROVIDER=cuda uses the GPU when its libraries are present, else
 * cpu with one log line; with REQUIRE_PROVIDER=true (the GPU image) it exits 1 at start instead, saying
 * what is missing, so a broken image fails its deployment rather than serving slowly on CPU.
 */
import { observability } from '#core/common/observability.ts';
import { unloadAll } from '#core/model/registry.ts';
import { readServerConfig } from '#core/scorer-service/config.ts';
import { type ScorerServer, startScorerServer } from '#core/scorer-service/http-server.ts';

const { logger } = observability('scorer-http');
let scorer: ScorerServer;
try {
  scorer = await startScorerServer(readServerConfig(), logger);
} catch (error) {
  logger.error('scorer failed to start', { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
logger.info('scorer listening', { url: scorer.url, provider: scorer.service.model.provider });

/**
 * How long a stop waits for the clients and the runs already sent before it exits all the same: under
 * ECS's stop timeout (30 s by default, then SIGKILL), so the log says why.
 */
const STOP_DEADLINE_MS = 25_000;
let stopping = false;
let exitCode = 0;

/**
 * Ends the process without an abort: a worker thread ended inside onnxruntime's native run (what
 * `process.exit()` does to every worker thread) aborts the whole process, exit 134
 * (test/integration/shutdown.test.ts). Releasing the model first waits for the runs already sent.
 */
function stop(beforeRelease: Promise<unknown>): void {
  stopping = true;
  setTimeout(() => {
    logger.error('the model was not released in time; exiting all the same', {
      deadlineMs: STOP_DEADLINE_MS,
    });
    process.exit(exitCode);
  }, STOP_DEADLINE_MS).unref();
  void beforeRelease
    .catch(() => undefined)
    .then(unloadAll)
    .then(() => process.exit(exitCode));
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    logger.info('shutting down', { signal });
    // Answers the connected clients first (ECS stops a task this way).
    stop(scorer.close());
  });
}

// A bug that escapes every handler: logged as such, the process exits 1 (the platform replaces the task)
// instead of going on in an unknown state. Clients waiting on a batch lose their connection and retry.
process.on('uncaughtException', (error) => {
  logger.error('uncaught exception: stopping', {
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  exitCode = 1;
  if (stopping) return;
  scorer.server.close();
  scorer.server.closeAllConnections();
  stop(Promise.resolve());
});
