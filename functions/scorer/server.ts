/**
 * scorer (HTTP entry point for GPU hosts): `node server.mjs` in the GPU image, or `npm run scorer:http`.
 * Configured by the same environment as the Lambda handler plus HOST, PORT, BATCH_WINDOW_MS and
 * MAX_BATCH_ITEMS; PROVIDER=cuda uses the GPU when its libraries are present, else cpu with one log line.
 */
import { observability } from '#core/common/observability.ts';
import { readServerConfig } from '#core/scorer-service/config.ts';
import { startScorerServer } from '#core/scorer-service/http-server.ts';

const { logger } = observability('scorer-http');
const scorer = await startScorerServer(readServerConfig(), logger);
logger.info('scorer listening', { url: scorer.url });

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    logger.info('shutting down', { signal });
    void scorer.close().then(() => process.exit(0));
  });
}
