/**
 * The scoring pipeline every entry point shares (CLI, Lambda handlers, HTTP server):
 * read → decode/preprocess (image.ts) → tokenize (tokenizer.ts) → batch → run (runtime.ts) → score
 * semantics (scoring.ts). Per-item failures come back as typed error payloads; one bad image never
 * fails the batch.
 */
import type { Readable } from 'node:stream';
import { type ErrorPayload, InvalidArgumentError, MmlqError, toErrorPayload } from '../common/errors.ts';
import { positiveInteger } from '../common/validate.ts';
import { type Aspect, type CropBox, cropAspects, findCrops } from './crop.ts';
import {
  type ImageInfo,
  type ImageLimits,
  type ModelInput,
  readImageFile,
  readStream,
  resolveLimits,
  startModelInputDecode,
  toNormalisedChw,
} from './image.ts';
import { DEFAULT_MODEL, DEFAULT_MODELS_DIR, type LoadedModel, loadModel } from './registry.ts';
import type { Feed, Provider } from './runtime.ts';
import {
  distributionStats,
  percentileOf,
  resolveThresholds,
  type Tier,
  type TierThresholds,
  tierOf,
} from './scores.ts';
import { joinTexts } from './tokenizer.ts';

export type ImageSource =
  | { bytes: Buffer }
  | { path: string }
  | { stream: Readable | AsyncIterable<Uint8Array> };

export interface ScoreRequest {
  /** Caller's identifier, echoed back (file path, S3 key, attachment id). */
  id: string;
  image: ImageSource;
  /** Text around the image: caption, alt text, title, comments. Used by multi-modal models only. */
  text?: string | readonly string[] | undefined;
  /** Aspects (`16:9`, `1:1`, any `W:H`) to find the best crop for: model/crop.ts. */
  crops?: readonly string[] | undefined;
}

export interface ScoreResult {
  /** Mean of the distribution on the model's scale (AVA 1-10). */
  score: number;
  /** Standard deviation of the distribution: how much raters would disagree. */
  std: number;
  /** Probability per bin, bins as in `model.binValues`. */
  distribution: number[];
  /** Share of the model's reference set this image beats, 0-100. */
  percentile: number;
  tier: Tier;
  /** Per-attribute condition in [0, 1] (1 = no defect of that kind), when the model predicts them. */
  attributes?: Record<string, number>;
  /** Whether text took part in this score. */
  mode: 'image' | 'image+text';
  model: { name: string; version: string };
  /** As stored (width and height before EXIF orientation); `phash`: see image.ts perceptualHash. */
  image: Pick<ImageInfo, 'format' | 'width' | 'height' | 'bytes'> & { phash: string };
  /** The best crop per requested aspect, in the oriented image's pixels, when crops were asked for. */
  crops?: CropBox[];
  timings: { readMs: number; decodeMs: number; inferenceMs: number; cropMs?: number };
}

/**
 * The one shape of a scored-or-failed item, everywhere (CLI, scorer, edge): `Extra` adds what a
 * success carries beyond the result (e.g. the scorer protocol's `source`).
 */
export type Outcome<Extra extends object = object> =
  | ({ id: string; ok: true; result: ScoreResult } & Extra)
  | { id: string; ok: false; error: ErrorPayload };

export type ScoreOutcome = Outcome;

export interface ScorerOptions {
  model?: string;
  modelsDir?: string;
  provider?: Provider;
  /** Fail rather than fall back to cpu when `provider` cannot start (default false: fall back). */
  requireProvider?: boolean;
  /** onnxruntime intra-op threads (0 = one per core). */
  intraOpThreads?: number;
  verify?: boolean;
  /** Images per onnxruntime run. */
  batchSize?: number;
  limits?: Partial<ImageLimits>;
  tiers?: Partial<TierThresholds>;
  log?: (message: string) => void;
}

interface Prepared {
  request: ScoreRequest;
  /** The decoded uint8 pixels until they are copied into a batch tensor, then dropped. */
  image: ModelInput | undefined;
  info: ImageInfo;
  phash: string;
  readMs: number;
  decodeMs: number;
  /** The bytes and aspects of a crop search, when the request asks for crops. */
  crop?: { bytes: Buffer; aspects: Aspect[] };
}

/**
 * Reusable float32 batch tensors: a run's tensor is taken, filled, moved to the inference worker
 * (runtime.ts `runMoving`: its buffer is detached here meanwhile) and given back as the buffer the worker
 * returns, so concurrent `scoreMany` calls never share one. One is kept between runs (batchSize x 3 x H
 * x W floats: 19 MiB at batch 8 and 448 px); extra ones for concurrent runs, and the buffer of a run
 * that failed, are left to the garbage collector.
 */
class TensorPool {
  private readonly free: Float32Array[] = [];
  constructor(private readonly size: number) {}

  take(): Float32Array {
    return this.free.pop() ?? new Float32Array(this.size);
  }

  give(tensor: Float32Array): void {
    // Never keep a detached or foreign array: the next batch would be written into nothing.
    if (this.free.length === 0 && tensor.length === this.size) this.free.push(tensor);
  }
}

const round = (x: number, digits = 4) => Number(x.toFixed(digits));

export class Scorer {
  private readonly tensors: TensorPool;

  private constructor(
    readonly model: LoadedModel,
    readonly batchSize: number,
    readonly limits: ImageLimits,
    readonly thresholds: TierThresholds,
  ) {
    const { height, width } = model.manifest.inputs.image;
    this.tensors = new TensorPool(batchSize * 3 * height * width);
  }

  static async create(options: ScorerOptions = {}): Promise<Scorer> {
    const batchSize = positiveInteger('batchSize', options.batchSize ?? 8);
    const limits = resolveLimits(options.limits);
    const thresholds = resolveThresholds(options.tiers);
    const model = await loadModel(options.model ?? DEFAULT_MODEL, {
      modelsDir: options.modelsDir ?? DEFAULT_MODELS_DIR,
      provider: options.provider ?? 'cpu',
      requireProvider: options.requireProvider ?? false,
      intraOpThreads: options.intraOpThreads ?? 0,
      verify: options.verify ?? true,
      log: options.log ?? ((m) => console.error(m)),
    });
    return new Scorer(model, batchSize, limits, thresholds);
  }

  get modelInfo(): { name: string; version: string; provider: Provider; multimodal: boolean } {
    const { manifest, session, tokenizer } = this.model;
    return {
      name: manifest.name,
      version: manifest.version,
      provider: session.provider,
      multimodal: tokenizer !== undefined,
    };
  }

  /** Scores one image; throws the typed error when it cannot be scored. */
  async scoreOne(request: ScoreRequest): Promise<ScoreResult> {
    const [outcome] = await this.scoreMany([request]);
    if (!outcome!.ok) {
      throw MmlqError.fromPayload(outcome!.error);
    }
    return outcome!.result;
  }

  /**
   * Scores many images in batches of `batchSize`, decoding the next batch while the current one runs.
   * Outcomes come back in request order; `onProgress` is called once per finished image.
   */
  async scoreMany(
    requests: readonly ScoreRequest[],
    onProgress?: (done: number, outcome: ScoreOutcome) => void,
  ): Promise<ScoreOutcome[]> {
    const outcomes: ScoreOutcome[] = new Array(requests.length);
    let done = 0;
    const finish = (index: number, outcome: ScoreOutcome) => {
      outcomes[index] = outcome;
      done++;
      onProgress?.(done, outcome);
    };
    const chunks: number[][] = [];
    for (let i = 0; i < requests.length; i += this.batchSize) {
      chunks.push(Array.from({ length: Math.min(this.batchSize, requests.length - i) }, (_, k) => i + k));
    }
    let next = chunks.length ? this.prepareChunk(requests, chunks[0]!, finish) : undefined;
    for (let c = 0; c < chunks.length; c++) {
      const ready = await next!.ready;
      next = c + 1 < chunks.length ? this.prepareChunk(requests, chunks[c + 1]!, finish) : undefined;
      // A decode advances only when this thread hands it on (file read -> header -> libvips): hand the
      // next batch's decodes to libvips first, so they run beside this batch's inference (in the runtime's
      // worker thread), and this thread is free for the results while it runs.
      await next?.dispatched;
      if (ready.length === 0) continue;
      try {
        const results = await this.infer(ready.map((r) => r.prepared));
        for (const [k, r] of ready.entries()) {
          finish(r.index, await this.withCrops(r.prepared, results[k]!));
        }
      } catch (error) {
        for (const r of ready)
          finish(r.index, { id: r.prepared.request.id, ok: false, error: toErrorPayload(error) });
      }
    }
    return outcomes;
  }

  /**
   * Starts reading and decoding a batch. `dispatched` settles when every in-memory or local-file image
   * has its decode running in libvips (or has failed); a stream is not waited for (it may be slow).
   * `ready` settles with the decoded ones; a failed one is finished here.
   */
  private prepareChunk(
    requests: readonly ScoreRequest[],
    indices: number[],
    finish: (index: number, outcome: ScoreOutcome) => void,
  ): { dispatched: Promise<unknown>; ready: Promise<{ index: number; prepared: Prepared }[]> } {
    const dispatched: Promise<void>[] = [];
    const ready = Promise.all(
      indices.map(async (index) => {
        const request = requests[index]!;
        let markDispatched = () => {};
        if (!('stream' in request.image)) dispatched.push(new Promise((r) => (markDispatched = r)));
        try {
          return { index, prepared: await this.prepare(request, markDispatched) };
        } catch (error) {
          finish(index, { id: request.id, ok: false, error: toErrorPayload(error) });
          return undefined;
        } finally {
          markDispatched();
        }
      }),
    ).then((settled) => settled.filter((s): s is { index: number; prepared: Prepared } => s !== undefined));
    return { dispatched: Promise.all(dispatched), ready };
  }

  private async prepare(request: ScoreRequest, dispatched: () => void): Promise<Prepared> {
    const aspects = request.crops?.length ? cropAspects(request.crops) : [];
    const t0 = performance.now();
    const bytes = await this.read(request.image);
    const t1 = performance.now();
    const job = await startModelInputDecode(bytes, this.model.manifest.inputs.image, this.limits);
    dispatched();
    const image = await job.done;
    const prepared: Prepared = {
      request,
      image,
      info: image.info,
      phash: image.phash,
      readMs: t1 - t0,
      decodeMs: performance.now() - t1,
    };
    if (aspects.length) prepared.crop = { bytes, aspects };
    return prepared;
  }

  /** The outcome of a scored item, with its crops when it asked for them (a failed search fails the item). */
  private async withCrops(p: Prepared, result: ScoreResult): Promise<ScoreOutcome> {
    const id = p.request.id;
    if (!p.crop) return { id, ok: true, result };
    try {
      const t0 = performance.now();
      const crops = await findCrops(this.model, p.crop.bytes, p.crop.aspects, this.limits);
      return {
        id,
        ok: true,
        result: {
          ...result,
          crops,
          timings: { ...result.timings, cropMs: round(performance.now() - t0, 2) },
        },
      };
    } catch (error) {
      return { id, ok: false, error: toErrorPayload(error) };
    }
  }

  private read(source: ImageSource): Promise<Buffer> {
    if ('bytes' in source) return Promise.resolve(source.bytes);
    if ('path' in source) return readImageFile(source.path, this.limits.maxBytes);
    if ('stream' in source) return readStream(source.stream, this.limits.maxBytes);
    throw new InvalidArgumentError('Expected an image source with bytes, path or stream');
  }

  private async infer(batch: Prepared[]): Promise<ScoreResult[]> {
    const { manifest, session, tokenizer } = this.model;
    const { image, text } = manifest.inputs;
    const n = batch.length;
    const plane = 3 * image.height * image.width;
    const tensor = this.tensors.take();
    const pixels = n * plane === tensor.length ? tensor : tensor.subarray(0, n * plane);
    for (const [i, p] of batch.entries()) {
      // uint8 HWC → normalised float32 CHW straight into this image's slot; the decoded bytes go.
      toNormalisedChw(p.image!.hwc, image, pixels, i * plane);
      p.image = undefined;
    }
    const feeds: Record<string, Feed> = {
      [image.name]: { data: pixels, dims: [n, 3, image.height, image.width] },
    };
    const withText: boolean[] = batch.map(() => false);
    if (text && tokenizer) {
      const ids = new BigInt64Array(n * text.maxTokens);
      const mask = new BigInt64Array(n * text.maxTokens);
      batch.forEach((p, i) => {
        const raw = p.request.text;
        const joined = typeof raw === 'string' ? raw.trim() : joinTexts(raw ?? []);
        const encoded = tokenizer.encode(joined);
        ids.set(encoded.ids, i * text.maxTokens);
        mask.set(encoded.mask, i * text.maxTokens);
        withText[i] = encoded.length > 0;
      });
      feeds[text.idsName] = { data: ids, dims: [n, text.maxTokens] };
      feeds[text.maskName] = { data: mask, dims: [n, text.maxTokens] };
    }
    const { distribution, attributes } = manifest.outputs;
    const fetches = [distribution.name, ...(attributes ? [attributes.name] : [])];
    const t0 = performance.now();
    // The batch tensor's buffer moves to the inference worker (no copy) and comes back with the result,
    // to the pool; a failed run keeps it (the pool then makes a new one).
    const ran = await session.runMoving(feeds, fetches);
    this.tensors.give(new Float32Array(ran.feeds[image.name]!.buffer as ArrayBuffer));
    const out = ran.outputs;
    const inferenceMs = (performance.now() - t0) / n;
    const dist = out[distribution.name]!;
    const attr = attributes ? out[attributes.name] : undefined;
    const bins = distribution.bins;
    const lowerIsBetter = manifest.score.direction === 'lower-is-better';
    return batch.map((p, i) => {
      const probs = Array.from(dist.data.subarray(i * bins, (i + 1) * bins));
      const stats = distributionStats(probs, distribution.binValues);
      const below = percentileOf(stats.mean, manifest.calibration.points);
      const percentile = lowerIsBetter ? 100 - below : below;
      const result: ScoreResult = {
        score: round(stats.mean),
        std: round(stats.std),
        distribution: probs.map((v) => round(v, 5)),
        percentile: round(percentile, 2),
        tier: tierOf(percentile, this.thresholds),
        mode: withText[i] ? 'image+text' : 'image',
        model: { name: manifest.name, version: manifest.version },
        image: {
          format: p.info.format,
          width: p.info.width,
          height: p.info.height,
          bytes: p.info.bytes,
          phash: p.phash,
        },
        timings: {
          readMs: round(p.readMs, 2),
          decodeMs: round(p.decodeMs, 2),
          inferenceMs: round(inferenceMs, 2),
        },
      };
      if (attributes && attr) {
        const a = attributes.labels.length;
        result.attributes = Object.fromEntries(
          attributes.labels.map((label, k) => [label, round(attr.data[i * a + k]!)]),
        );
      }
      return result;
    });
  }
}
