/**
 * Delivers local S3 events to the on-upload function the way AWS does: only ObjectCreated events under
 * the notification's prefix, keys URL-encoded as S3 writes them, asynchronous invocation semantics
 * (the first attempt plus `retries` more, with backoff), and when every attempt fails a record in the
 * shape of Lambda's on-failure destination, written under the dead-letter prefix of the bucket.
 * Nothing is dropped silently: every event ends as delivered or dead-lettered.
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
  outcome: 'delivered' | 'dead-lettered';
}

export class S3EventBridge {
  private readonly pending = new Set<Promise<void>>();
  readonly reports: DeliveryReport[] = [];

  constructor(private readonly options: BridgeOptions) {}

  /** Takes an event as s3rver emits it (raw keys); returns at once, delivery runs in the background. */
  accept(raw: S3Event): void {
    const records = raw.Records.filter(
      (r) => r.eventName.startsWith('ObjectCreated:') && r.s3.object.key.startsWith(this.options.prefix),
    ).map((r) => ({
      ...r,
      s3: { ...r.s3, object: { ...r.s3.object, key: encodeEventKey(r.s3.object.key) } },
    }));
    if (records.length === 0) return;
    const delivery = this.deliver({ Records: records }).finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
  }

  /** Resolves when every accepted event is delivered or dead-lettered. */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  private async deliver(event: S3Event): Promise<void> {
    const keys = event.Records.map((r) => r.s3.object.key);
    const attempts = 1 + this.options.retries;
    let last: unknown;
    for (let n = 1; n <= attempts; n++) {
      try {
        const result = await this.options.invoke(this.options.functionName, event);
        if (result.ok) {
          this.reports.push({ keys, attempts: n, outcome: 'delivered' });
          return;
        }
        last = result.payload;
      } catch (error) {
        last = { errorType: (error as Error).name, errorMessage: (error as Error).message };
      }
      const message = (last as { errorMessage?: string })?.errorMessage ?? JSON.stringify(last);
      this.options.log(`delivery of ${keys.join(', ')} failed (attempt ${n} of ${attempts}): ${message}`);
      if (n < attempts) await sleep(this.options.backoffMs * 2 ** (n - 1));
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
      // The last resort is the log: the event is still not silently dropped.
      this.options.log(
        `could not write the dead-letter record: ${(error as Error).message}\n${JSON.stringify(record)}`,
      );
    }
    this.reports.push({ keys, attempts, outcome: 'dead-lettered' });
  }
}
