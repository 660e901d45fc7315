/**
 * The scorer's plain HTTP entry point, for GPU hosts (ECS on GPU instances) and any container platform:
 *   POST /v1/score   the same job as the Lambda handler → { model, outcomes }
 *   GET  /health     { status, model (with the provider in use), inference: { restarts }, batching, queue }
 * Images of concurrent requests are micro-batched (batcher.ts) so the GPU sees full batches. At most
 * `maxQueuedItems` items are admitted at once; a job beyond that is answered 503 SCORER_UNAVAILABLE
 * with Retry-After (the scorer client retries it), so a burst cannot hold gigabytes of images.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseJob } from '../clients/scorer-protocol.ts';
import { readLimited } from '../common/bytes.ts';
import { EdgeError, statusOf, toErrorPayload } from '../common/errors.ts';
import type { Logger } from '../common/observability.ts';
import { parseJsonText } from '../common/validate.ts';
import type { ScoreOutcome, ScoreRequest } from '../model/scorer.ts';
import { MicroBatcher } from './batcher.ts';
import type { ServerConfig } from './config.ts';
import { ScoringService } from './service.ts';

/** The largest job body: Lambda's synchronous payload limit, so the HTTP and Lambda scorers take the same jobs. */
const MAX_BODY = 6 * 1024 * 1024;
/**
 * Idle keep-alive connections stay open longer than the ALB's idle timeout (65 s, serverless.gpu.yml):
 * a server that closes first races the ALB reusing the connection, which answers 502.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 70_000;
/** Must exceed the keep-alive timeout (Node's own advice), else a reused connection can be cut early. */
export const HEADERS_TIMEOUT_MS = 75_000;
/** Seconds a refused client is asked to wait (Retry-After). */
const RETRY_AFTER_S = 1;

export interface ScorerServer {
  server: Server;
  service: ScoringService;
  batcher: MicroBatcher<ScoreRequest, ScoreOutcome>;
  url: string;
  /** Items admitted now, the bound, and jobs refused so far (for health output and tests). */
  queue: { items: number; max: number; refused: number };
  close: () => Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return readLimited(
    req,
    MAX_BODY,
    (received) =>
      new EdgeError(
        'PAYLOAD_TOO_LARGE',
        `Expected a scoring job of at most ${MAX_BODY} bytes (Lambda's payload limit, so both scorer entry points take the same jobs) but received ${received} bytes`,
      ),
  ).then((bytes) => bytes.toString('utf8'));
}

export async function startScorerServer(config: ServerConfig, logger: Logger): Promise<ScorerServer> {
  const service = await ScoringService.create(config, (m) => logger.warn(m));
  const batcher = new MicroBatcher<ScoreRequest, ScoreOutcome>(
    (requests) => service.scorer.scoreMany(requests),
    {
      windowMs: config.batchWindowMs,
      maxItems: config.maxBatchItems,
    },
  );
  service.useRunner((requests) => batcher.submit(requests));
  logger.info('scorer model loaded', { model: service.model });
  const queue = { items: 0, max: config.maxQueuedItems, refused: 0 };

  const server = createServer(async (req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.method === 'GET' && req.url === '/health') {
        return send(200, {
          status: 'ok',
          model: service.model,
          inference: { restarts: service.inferenceRestarts },
          batching: { ...batcher.stats },
          queue: { ...queue },
        });
      }
      if (req.method === 'POST' && req.url === '/v1/score') {
        let job: ReturnType<typeof parseJob>;
        try {
          job = parseJob(
            parseJsonText(await readBody(req), 'Expected a JSON scoring job but the body does not parse'),
          );
        } catch (error) {
          const payload = toErrorPayload(error);
          return send(statusOf(payload.code), { error: payload });
        }
        const size = job.items.length;
        if (size > 0 && queue.items + size > queue.max) {
          queue.refused++;
          logger.warn('scorer busy, job refused', { items: size, queued: queue.items, max: queue.max });
          const message = `The scorer is busy: ${queue.items} items queued, at most ${queue.max} (MAX_QUEUED_ITEMS); retry later`;
          return send(
            503,
            { error: { code: 'SCORER_UNAVAILABLE', message } },
            { 'retry-after': String(RETRY_AFTER_S) },
          );
        }
        queue.items += size;
        try {
          return send(200, await service.run(job));
        } finally {
          queue.items -= size;
        }
      }
      return send(404, {
        error: { code: 'ROUTE_NOT_FOUND', message: 'Routes: POST /v1/score, GET /health' },
      });
    } catch (error) {
      const payload = toErrorPayload(error);
      logger.error('scoring failed', { error: error instanceof Error ? error.message : String(error) });
      return send(statusOf(payload.code), { error: payload });
    }
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  return {
    server,
    service,
    batcher,
    url: `http://${host}:${port}`,
    queue,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
