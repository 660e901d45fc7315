/**
 * Aesthetic smart crop: for each requested aspect (`16:9`, `1:1`, any `W:H`), the window of the image the
 * model scores best, in the oriented image's pixels (after EXIF orientation), with its score.
 *
 * Why not one backbone pass: the shipped graph runs pixels to scores in one piece (backbone, window and
 * global statistics, pixel statistics, the query head); nothing in it takes a feature map, so scoring
 * token windows of one map needs a head-only export, and the global and pixel-statistics tokens would
 * still need the window's own pixels. Instead the search is cheap by construction:
 *
 * 1. one decode of the whole image (shrink-on-load), every window cut from it in memory;
 * 2. coarse: every candidate (a few scales x positions) scored at the smallest input the graph takes
 *    (shorter side 128, the window's own aspect), all candidates of an aspect in one batch;
 * 3. fine: the best few candidates scored again at the model's full input size (the window's aspect,
 *    about the manifest's pixel count); the best of them is the crop, its score that full-size score.
 *
 * A graph whose height and width are fixed (e.g. a ViT with fixed position embeddings) gets every
 * candidate at its fixed size, preprocessed as the manifest says (shortest edge, centre crop), and fewer
 * candidates. Crops are scored image-only (no text): the text is the same for every window.
 */
import { type Aspect, parseAspects } from '../common/aspects.ts';
import { type Box, type DecodedImage, decodeImage, type ImageLimits, windowPixels } from './image.ts';
import type { LoadedModel } from './registry.ts';
import type { Feed } from './runtime.ts';
import { distributionStats } from './scores.ts';

export type { Aspect } from '../common/aspects.ts';

/** Most aspects one image may ask for (each costs about one full-size inference). */
export const MAX_CROP_ASPECTS = 4;

/** One crop: the box in the oriented image's pixels (integers, inside the image) and its score. */
export interface CropBox {
  aspect: string;
  left: number;
  top: number;
  width: number;
  height: number;
  /** The model's score of the window at full input size, on the model's scale. */
  score: number;
}

export interface CropSearchOptions {
  /** Scales of the candidate windows, relative to the largest window of the aspect. */
  scales?: readonly number[];
  /** Positions along an axis with room to slide, at most. */
  positions?: number;
  /** Candidates rescored at full input size. */
  refine?: number;
}

const DEFAULTS: Required<CropSearchOptions> = { scales: [1, 0.8, 0.64], positions: 3, refine: 2 };

/** Axes of graphs that take any size: multiples of STRIDE, at least MIN_SIDE (docs/MODEL_FORMAT.md). */
const STRIDE = 32;
const MIN_SIDE = 128;
const COARSE_SHORT = 128;

/** Parses the aspects a request names (array or comma-separated), at most MAX_CROP_ASPECTS. */
export function cropAspects(value: string | readonly string[]): Aspect[] {
  return parseAspects(value, MAX_CROP_ASPECTS);
}

const snap = (x: number, max: number) => Math.min(max, Math.max(MIN_SIDE, Math.round(x / STRIDE) * STRIDE));

/** Input size (width, height) for a window of aspect `a` with about `area` pixels, in the graph's steps. */
function inputFor(a: number, area: number, maxSide: number): { width: number; height: number } {
  return { width: snap(Math.sqrt(area * a), maxSide), height: snap(Math.sqrt(area / a), maxSide) };
}

/** Evenly spaced offsets in [0, slack]: one (centred) when the window barely moves. */
function offsets(slack: number, size: number, most: number): number[] {
  if (slack <= 0) return [0];
  if (slack < 0.12 * size) return [Math.floor(slack / 2)];
  const n = Math.min(most, 1 + Math.ceil(slack / (0.5 * size)));
  return Array.from({ length: n }, (_, i) => Math.round((i * slack) / (n - 1)));
}

/** Candidate windows of one aspect in a width x height image (integers, inside, deduplicated). */
export function candidateBoxes(
  width: number,
  height: number,
  aspect: Aspect,
  options: CropSearchOptions = {},
): Box[] {
  const { scales, positions } = { ...DEFAULTS, ...options };
  const a = aspect.width / aspect.height;
  const fullW = Math.min(width, height * a);
  const out = new Map<string, Box>();
  for (const s of scales) {
    const w = Math.max(1, Math.min(width, Math.round(fullW * s)));
    const h = Math.max(1, Math.min(height, Math.round(w / a)));
    for (const top of offsets(height - h, h, positions)) {
      for (const left of offsets(width - w, w, positions)) {
        out.set(`${left},${top},${w},${h}`, { left, top, width: w, height: h });
      }
    }
  }
  return [...out.values()];
}

interface Scored {
  box: Box;
  goodness: number;
  mean: number;
}

/**
 * The best crop per aspect. `bytes` is the image as received; limits as for scoring. Throws the image's
 * typed error when it cannot be decoded.
 */
export async function findCrops(
  model: LoadedModel,
  bytes: Buffer,
  aspects: readonly Aspect[],
  limits: ImageLimits,
  options: CropSearchOptions = {},
): Promise<CropBox[]> {
  if (aspects.length === 0) return [];
  const opts = { ...DEFAULTS, ...options };
  const spec = model.manifest.inputs.image;
  const shape = model.session.inputShape(spec.name);
  const dynamic = shape !== undefined && typeof shape[2] === 'string' && typeof shape[3] === 'string';
  const area = spec.width * spec.height;
  const maxSide = 4 * Math.max(spec.width, spec.height);
  // Enough resolution that the smallest window is not enlarged for its full-size score.
  const smallest = Math.min(...opts.scales);
  const image = await decodeImage(bytes, limits, Math.ceil(Math.max(spec.width, spec.height) / smallest));
  const { width: W, height: H } = image.oriented;
  const k = image.width / W;
  const toWork = (b: Box): Box => {
    const left = Math.min(image.width - 1, Math.floor(b.left * k));
    const top = Math.min(image.height - 1, Math.floor(b.top * k));
    return {
      left,
      top,
      width: Math.max(1, Math.min(image.width - left, Math.round(b.width * k))),
      height: Math.max(1, Math.min(image.height - top, Math.round(b.height * k))),
    };
  };
  const out: CropBox[] = [];
  for (const aspect of aspects) {
    const a = aspect.width / aspect.height;
    const boxes = candidateBoxes(W, H, aspect, dynamic ? opts : { ...opts, scales: [1, 0.75], positions: 2 });
    const work = boxes.map(toWork);
    let finalists = boxes.map((_, i) => i);
    let scored: Scored[];
    if (dynamic) {
      if (boxes.length > opts.refine) {
        const coarse =
          a >= 1
            ? { height: COARSE_SHORT, width: snap(COARSE_SHORT * a, maxSide) }
            : { width: COARSE_SHORT, height: snap(COARSE_SHORT / a, maxSide) };
        const first = await scoreWindows(model, image, work, coarse, false);
        finalists = finalists.sort((x, y) => first[y]!.goodness - first[x]!.goodness).slice(0, opts.refine);
      }
      scored = await scoreWindows(model, image, finalists.map((i) => work[i]!), inputFor(a, area, maxSide), false);
    } else {
      scored = await scoreWindows(model, image, work, { width: spec.width, height: spec.height }, true);
    }
    let best = 0;
    for (let j = 1; j < scored.length; j++) if (scored[j]!.goodness > scored[best]!.goodness) best = j;
    out.push({ aspect: aspect.text, ...boxes[finalists[best]!]!, score: Number(scored[best]!.mean.toFixed(4)) });
  }
  return out;
}

/**
 * Scores windows (boxes in the decoded image's pixels) at one input size, in one batch. `centreCrop`:
 * the manifest's own preprocessing (shortest edge, centre crop) for graphs of a fixed size.
 */
async function scoreWindows(
  model: LoadedModel,
  image: DecodedImage,
  boxes: readonly Box[],
  size: { width: number; height: number },
  centreCrop: boolean,
): Promise<Scored[]> {
  const { manifest, session, tokenizer } = model;
  const { image: spec, text } = manifest.inputs;
  const n = boxes.length;
  const plane = 3 * size.width * size.height;
  const pixels = new Float32Array(n * plane);
  const views = boxes.map((b) => (centreCrop && spec.resize.mode === 'shortest-edge' ? centred(b, size) : b));
  const windows = await Promise.all(views.map((b) => windowPixels(image, b, size.width, size.height, spec)));
  windows.forEach((w, i) => pixels.set(w, i * plane));
  const feeds: Record<string, Feed> = { [spec.name]: { data: pixels, dims: [n, 3, size.height, size.width] } };
  if (text && tokenizer) {
    feeds[text.idsName] = { data: new BigInt64Array(n * text.maxTokens), dims: [n, text.maxTokens] };
    feeds[text.maskName] = { data: new BigInt64Array(n * text.maxTokens), dims: [n, text.maxTokens] };
  }
  const { distribution } = manifest.outputs;
  const out = await session.run(feeds, [distribution.name]);
  const dist = out[distribution.name]!.data;
  const sign = manifest.score.direction === 'lower-is-better' ? -1 : 1;
  return boxes.map((box, i) => {
    const probs = Array.from(dist.subarray(i * distribution.bins, (i + 1) * distribution.bins));
    const { mean } = distributionStats(probs, distribution.binValues);
    return { box, mean, goodness: sign * mean };
  });
}

/** The centre part of `box` with the aspect of `size`: what shortest-edge + centre crop keeps. */
function centred(box: Box, size: { width: number; height: number }): Box {
  const a = size.width / size.height;
  const w = Math.max(1, Math.min(box.width, Math.round(box.height * a)));
  const h = Math.max(1, Math.min(box.height, Math.round(w / a)));
  return {
    left: box.left + Math.floor((box.width - w) / 2),
    top: box.top + Math.floor((box.height - h) / 2),
    width: w,
    height: h,
  };
}
