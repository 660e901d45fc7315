/**
 * The scorer behind both entry points (Lambda handler and GPU HTTP server): resolves image references
 * (S3 GetObject, allow-listed URL), scores them with the core Scorer and answers one outcome per item,
 * in order. A reference that cannot be read is that item's typed error, never the job's.
 */
import { createHash } from 'node:crypto';
import { createS3Client, ObjectStore } from '../clients/s3.ts';
import { fetchImage } from '../clients/safe-fetch.ts';
import type {
  ItemOutcome,
  ModelInfo,
  ScoredSource,
  ScoreItem,
  ScoreJob,
  ScoreJobResult,
} from '../clients/scorer-protocol.ts';
import { InvalidArgumentError, toErrorPayload } from '../common/errors.ts';
import { type ScoreOutcome, type ScoreRequest, Scorer } from '../model/scorer.ts';
import type { ScorerConfig } from './config.ts';

/** Runs prepared requests through the model: the Scorer directly, or a micro-batcher in front of it. */
export type Runner = (requests: ScoreRequest[]) => Promise<ScoreOutcome[]>;

const FETCH_CONCURRENCY = 8;

export class ScoringService {
  private runner: Runner;

  private constructor(
    readonly scorer: Scorer,
    private readonly objects: ObjectStore,
    private readonly config: ScorerConfig,
  ) {
    this.runner = (requests) => scorer.scoreMany(requests);
  }

  static async create(config: ScorerConfig, log: (message: string) => void): Promise<ScoringService> {
    const scorer = await Scorer.create({
      model: config.model,
      modelsDir: config.modelsDir,
      provider: config.provider,
      requireProvider: config.requireProvider,
      batchSize: config.batchSize,
      intraOpThreads: config.intraOpThreads,
      verify: config.verifyModel,
      limits: { maxBytes: config.maxImageBytes },
      ...(config.tiers ? { tiers: config.tiers } : {}),
      log,
    });
    return new ScoringService(scorer, new ObjectStore(createS3Client(config.s3)), config);
  }

  /** Puts a micro-batcher (or anything else) between fetched images and the model. */
  useRunner(runner: Runner): void {
    this.runner = runner;
  }

  get model(): ModelInfo {
    return this.scorer.modelInfo;
  }

  /** Inference workers started again after one died (0 on a healthy scorer; see runtime.ts). */
  get inferenceRestarts(): number {
    return this.scorer.model.session.restarts;
  }

  async run(job: ScoreJob): Promise<ScoreJobResult> {
    const outcomes: ItemOutcome[] = new Array(job.items.length);
    const ready: { index: number; request: ScoreRequest; fetchMs: number; source: ScoredSource }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < job.items.length) {
        const index = next++;
        const item = job.items[index]!;
        const started = performance.now();
        try {
          const { bytes, source } = await this.read(item);
          ready.push({
            index,
            request: { id: item.id, image: { bytes }, text: item.text, crops: item.crops },
            fetchMs: performance.now() - started,
            source,
          });
        } catch (error) {
          outcomes[index] = { id: item.id, ok: false, error: toErrorPayload(error) };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(FETCH_CONCURRENCY, job.items.length) }, worker));
    ready.sort((a, b) => a.index - b.index);
    const scored = await this.runner(ready.map((r) => r.request));
    for (const [k, r] of ready.entries()) {
      const outcome = scored[k]!;
      if (outcome.ok) {
        outcome.result.timings.readMs = Number(r.fetchMs.toFixed(2));
        outcomes[r.index] = { ...outcome, source: r.source };
      } else {
        outcomes[r.index] = outcome;
      }
    }
    return { model: this.model, outcomes };
  }

  private async read(item: ScoreItem): Promise<{ bytes: Buffer; source: ScoredSource }> {
    if ('s3' in item.image) {
      const ref = item.image.s3;
      const allowed = this.config.allowedBuckets;
      if (allowed.length === 0) {
        throw new InvalidArgumentError(
          'S3 inputs are disabled: no bucket is allow-listed (ALLOWED_BUCKETS is empty)',
        );
      }
      if (!allowed.includes(ref.bucket)) {
        throw new InvalidArgumentError(
          `Expected an S3 bucket among ${allowed.join(', ')} (ALLOWED_BUCKETS) but received ${JSON.stringify(ref.bucket)}`,
        );
      }
      const { bytes, etag } = await this.objects.getImage(ref, this.config.maxImageBytes);
      return { bytes, source: etag ? { etag } : {} };
    }
    const fetched = await fetchImage(item.image.url, {
      ...this.config.url,
      maxBytes: this.config.maxImageBytes,
    });
    return {
      bytes: fetched.bytes,
      source: { sha256: createHash('sha256').update(fetched.bytes).digest('hex') },
    };
  }
}
