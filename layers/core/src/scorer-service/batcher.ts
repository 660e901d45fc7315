/**
 * Micro-batching for the GPU service: items submitted by concurrent requests are collected for up to
 * `windowMs` after the first one (or until `maxItems`), run as one batch, and each caller gets back its
 * own results in order. A GPU is fed full batches this way without making a lone request wait long.
 */
import { invalid } from '../common/validate.ts';

export interface BatcherOptions {
  /** How long the first pending item waits for company, in ms (0 = next tick). */
  windowMs: number;
  /** Flush as soon as this many items are pending. */
  maxItems: number;
}

interface Pending<T, R> {
  items: T[];
  resolve: (results: R[]) => void;
  reject: (error: unknown) => void;
}

export class MicroBatcher<T, R> {
  private queue: Pending<T, R>[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Batches run so far and their sizes (for health output and tests). */
  readonly stats = { batches: 0, items: 0, largest: 0 };

  constructor(
    private readonly run: (items: T[]) => Promise<R[]>,
    private readonly options: BatcherOptions,
  ) {
    if (!Number.isInteger(options.windowMs) || options.windowMs < 0)
      throw invalid('batcher.windowMs', 'non-negative integer', options.windowMs);
    if (!Number.isInteger(options.maxItems) || options.maxItems < 1)
      throw invalid('batcher.maxItems', 'positive integer', options.maxItems);
  }

  submit(items: T[]): Promise<R[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<R[]>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.queued += items.length;
      if (this.queued >= this.options.maxItems) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.windowMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    this.queued = 0;
    if (batch.length === 0) return;
    const all = batch.flatMap((p) => p.items);
    this.stats.batches++;
    this.stats.items += all.length;
    this.stats.largest = Math.max(this.stats.largest, all.length);
    this.run(all).then(
      (results) => {
        let offset = 0;
        for (const p of batch) {
          p.resolve(results.slice(offset, offset + p.items.length));
          offset += p.items.length;
        }
      },
      (error: unknown) => {
        for (const p of batch) p.reject(error);
      },
    );
  }
}
