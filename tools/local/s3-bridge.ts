/**
 * Delivers local S3 events to the on-upload function the way AWS does: only ObjectCreated events under
 * the notification's prefix, keys URL-encoded as S3 writes them, asynchronous invocation semantics
 * (the first attempt plus `retries` more, with backoff), and when every attempt fails a record in the
 * shape of Lambda's on-failure destination, written under the dead-letter prefix of the bucket.
 * Nothing is dropped silently: every event ends as delivered or dead-lettered.
 *
 * At most `concurrency` invocations are in flight (like reserved concurrency on AWS); further events
 * wait in a queue, so a burst of uploads does not start a burst of model runs.
 */
import { randomUUID } from 'node:crypto';
import type { S3Event } from 'aws-lambda';
import { encodeEventKey } from '#core/clients/s3-event.ts';
import { sleep } from '#core/common/time.ts';

export interface InvokeResult {
  ok: boolean;
  /** The function's answer (ok) or its error payload. */
  payload: unknown;
}

export interface BridgeOptions {
  functionName: string;
  /** The S3 notification's prefix rule. */
  prefix: string;
  /** Lambda's MaximumRetryAttempts for asynchronous invocation (0-2 on AWS). */
  retries: number;
  /** Delay before retry n is backoffMs * 2^(n-1) (AWS waits about a minute, then two). */
  backoffMs: number;
  invoke: (functionName: string, event: unknown) => Promise<InvokeResult>;
  deadLetter: (record: DeadLetterRecord) => Promise<void>;
  log: (message: string) => void;
  /** Invocations in flight at most (default 2). */
  concurrency?: number;
}

/** The record Lambda sends to an on-failure destination (requestContext/requestPayload/response*). */
export interface DeadLetterRecord {
  version: '1.0';
  timestamp: string;
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'RetriesExhausted';
    approximateInvokeCount: number;
  };
  requestPayload: unknown;
  responseContext: { statusCode: number; executedVersion: string; functionError: string };
  responsePayload: unknown;
}

export interface DeliveryReport {
  keys: string[];
  attempts: number;
  outcome: 'delivered' | 'dead-lettered' | 'failed';
}

export class S3EventBridge {
  private readonly pending = new Set<Promise<unknown>>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;
  readonly reports: DeliveryReport[] = [];
  /** The most invocations that were ever in flight at once. */
  maxInFlight = 0;

  constructor(private readonly options: BridgeOptions) {
    const c = options.concurrency ?? 2;
    if (!Number.isInteger(c) || c < 1) throw new Error(`concurrency must be an integer >= 1 but is ${c}`);
  }

  /** Invocations in flight now. */
  get inFlight(): number {
    return this.running;
  }

  /** Takes an event as s3rver emits it (raw keys); returns at once, delivery runs in the background. */
  accept(raw: S3Event): void {
    const records = raw.Records.filter(
      (r) => r.eventName.startsWith('ObjectCreated:') && r.s3.object.key.startsWith(this.options.prefix),
    ).map((r) => ({
      ...r,
      s3: { ...r.s3, object: { ...r.s3.object, key: encodeEventKey(r.s3.object.key) } },
    }));
    if (records.length === 0) return;
    void this.deliver({ Records: records });
  }

  /** Resolves when every accepted event is delivered or dead-lettered. */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  /**
   * Delivers one event (keys as in a real S3 event) with the retry semantics above. With deadLetter
   * false (a re-drive), a delivery that fails every attempt is reported 'failed' and not dead-lettered
   * again.
   */
  deliver(event: S3Event, options: { deadLetter?: boolean } = {}): Promise<DeliveryReport> {
    const delivery = this.run(event, options.deadLetter ?? true);
    const tracked = delivery.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    return delivery;
  }

  /** One invocation, when a slot is free. */
  private async invokeInSlot(event: S3Event): Promise<InvokeResult> {
    const limit = this.options.concurrency ?? 2;
    while (this.running >= limit) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    this.maxInFlight = Math.max(this.maxInFlight, this.running);
    try {
      return await this.options.invoke(this.options.functionName, event);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async run(event: S3Event, deadLetter: boolean): Promise<DeliveryReport> {
    const keys = event.Records.map((r) => r.s3.object.key);
    const attempts = 1 + this.options.retries;
    let last: unknown;
    for (let n = 1; n <= attempts; n++) {
      try {
        const result = await this.invokeInSlot(event);
        if (result.ok) {
          const report: DeliveryReport = { keys, attempts: n, outcome: 'delivered' };
          this.reports.push(report);
          return report;
        }
        last = result.payload;
      } catch (error) {
        last = { errorType: (error as Error).name, errorMessage: (error as Error).message };
      }
      const message = (last as { errorMessage?: string })?.errorMessage ?? JSON.stringify(last);
      this.options.log(`delivery of ${keys.join(', ')} failed (attempt ${n} of ${attempts}): ${message}`);
      if (n < attempts) await sleep(this.options.backoffMs * 2 ** (n - 1));
    }
    if (!deadLetter) {
      const report: DeliveryReport = { keys, attempts, outcome: 'failed' };
      this.reports.push(report);
      return report;
    }
    const record: DeadLetterRecord = {
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId: randomUUID(),
        functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${this.options.functionName}:$LATEST`,
        condition: 'RetriesExhausted',
        approximateInvokeCount: attempts,
      },
      requestPayload: event,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: last,
    };
    try {
      await this.options.deadLetter(record);
      this.options.log(`dead-lettered ${keys.join(', ')} after ${attempts} attempts`);
    } catch (error) {
      // The sink (dead-letter.ts) already fell back to a local file; this is the very last resort.
      this.options.log(
        `could not write the dead-letter record: ${(error as Error).message}\n${JSON.stringify(record)}`,
      );
    }
    const report: DeliveryReport = { keys, attempts, outcome: 'dead-lettered' };
    this.reports.push(report);
    return report;
  }
}
