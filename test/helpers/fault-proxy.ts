/**
 * A loopback HTTP proxy that forwards every request unchanged (Host and signatures included) to one
 * target, unless a fault is injected: then matching requests get a canned answer instead, either without
 * reaching the target (an S3 503 SlowDown burst) or after the target has handled them, its answer
 * replaced (a Lambda whose runtime crashed after doing part of its work).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface Fault {
  reply: Reply;
  /** Forward first and replace the target's answer (default: answer without forwarding). */
  afterTarget?: boolean;
  /** How many matching requests get the fault (default: every one until lift()). */
  count?: number;
  /** Which requests it applies to (default: all). */
  match?: (req: IncomingMessage) => boolean;
}

/** What S3 answers when it sheds load. */
export const S3_SLOW_DOWN: Reply = {
  status: 503,
  headers: { 'content-type': 'application/xml' },
  body:
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>' +
    '<Message>Please reduce your request rate.</Message><RequestId>FAULT</RequestId></Error>',
};

/** What Lambda Invoke answers when the function's runtime dies mid-invocation (e.g. killed, OOM). */
export const LAMBDA_CRASH: Reply = {
  status: 200,
  headers: { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' },
  body: JSON.stringify({
    errorType: 'Runtime.ExitError',
    errorMessage: `RequestId: ${randomUUID()} Error: Runtime exited with error: signal: killed`,
  }),
};

export class FaultProxy {
  private server: Server | undefined;
  private fault: Fault | undefined;
  /** Requests that got the injected answer since start. */
  faulted = 0;
  /** Requests forwarded unchanged since start. */
  forwarded = 0;

  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** From now on matching requests get `fault` (replacing any earlier one). */
  inject(fault: Fault): void {
    this.fault = { ...fault };
  }

  /** Ends the fault: every request is forwarded again. */
  lift(): void {
    this.fault = undefined;
  }

  /** True while a fault is injected and not used up. */
  get active(): boolean {
    return this.fault !== undefined;
  }

  private take(req: IncomingMessage): Fault | undefined {
    const f = this.fault;
    if (!f || (f.match && !f.match(req))) return undefined;
    if (f.count !== undefined && --f.count <= 0) this.fault = undefined;
    return f;
  }

  start(): Promise<void> {
    const server = createServer((req, res) => {
      const fault = this.take(req);
      const answer = (reply: Reply) => {
        this.faulted++;
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body);
      };
      if (fault && !fault.afterTarget) {
        req.resume();
        req.on('end', () => answer(fault.reply));
        return;
      }
      const upstream = request(
        {
          host: this.target.host,
          port: this.target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent: false,
        },
        (answerOfTarget) => {
          if (fault) {
            answerOfTarget.resume();
            answerOfTarget.on('end', () => answer(fault.reply));
            return;
          }
          this.forwarded++;
          res.writeHead(answerOfTarget.statusCode ?? 502, answerOfTarget.headers);
          answerOfTarget.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      req.pipe(upstream);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
