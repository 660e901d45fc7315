/**
 * The scorer's plain HTTP entry point, for GPU hosts (ECS on GPU instances) and any container platform:
 *   POST /v1/score   the same job as the Lambda handler → { model, outcomes }
 *   GET  /health     { status, model, batching }
 * Images of concurrent requests are micro-batched (batcher.ts) so the GPU sees full batches.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_JOB_ITEMS, parseJob } from '../clients/scorer-protocol.ts';
import { statusOf, toErrorPayload } from '../common/errors.ts';
import type { Logger } from '../common/observability.ts';
import type { ScoreOutcome, ScoreRequest } from '../model/scorer.ts';
import { MicroBatcher } from './batcher.ts';
import type { ServerConfig } from './config.ts';
import { ScoringService } from './service.ts';

const MAX_BODY = 1024 * 1024;

export interface ScorerServer {
  server: Server;
  service: ScoringService;
  batcher: MicroBatcher<ScoreRequest, ScoreOutcome>;
  url: string;
  close: () => Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
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

  const server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.method === 'GET' && req.url === '/health') {
        return send(200, { status: 'ok', model: service.model, batching: { ...batcher.stats } });
      }
      if (req.method === 'POST' && req.url === '/v1/score') {
        let job: ReturnType<typeof parseJob>;
        try {
          job = parseJob(JSON.parse(await readBody(req)));
        } catch (error) {
          const payload = toErrorPayload(error);
          const body =
            payload.code === 'INTERNAL'
              ? { code: 'INVALID_ARGUMENT', message: `Expected a JSON job of at most ${MAX_JOB_ITEMS} items` }
              : payload;
          return send(400, { error: body });
        }
        return send(200, await service.run(job));
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
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  return {
    server,
    service,
    batcher,
    url: `http://${host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
