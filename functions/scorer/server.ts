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

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    logger.info('shutting down', { signal });
    // Answers the connected clients, then releases the model: its release waits for the runs already
    // sent, so no inference thread is still running when the process exits (one ended inside
    // onnxruntime's native run aborts the process, exit 134; test/integration/shutdown.test.ts).
    void scorer
      .close()
      .then(unloadAll)
      .then(() => process.exit(0));
  });
}
