/**
 * Aesthetic smart crop: for each requested aspect (`16:9`, `1:1`, any `W:H`), the window of the image the
 * model rates best, in the oriented image's pixels (after EXIF orientation), with its score.
 *
 * Why not one backbone pass: the shipped graph runs pixels to scores in one piece (backbone, window and
 * global statistics, pixel statistics, the query head); nothing in it takes a feature map, so scoring
 * token windows of one map needs a head-only export, and the global and pixel-statistics tokens would
 * still need each window's own pixels. Instead the search is cheap by construction:
 *
 * 1. one decode of the whole image (shrink-on-load), every window cut from it in memory;
 * 2. a quality map: square tiles of half the shorter side (at most 16), each scored by the model at the
 *    smallest input the graph takes (128 x 128), in one batch, shared by every aspect;
 * 3. coarse: every candidate window (4 scales x up to 5 positions per axis) ranked by its parts (the
 *    area-weighted tile scores it covers: a flat, blurred or damaged part drags it down) plus a size prior;
 * 4. fine: the best by that rank and, unless it mostly overlaps it, the best of the largest windows (the
 *    photographer's framing), scored whole at the model's full input size (the window's aspect, about
 *    the manifest's pixel count); the model's score plus the parts plus the size picks the crop, and its
 *    full-size score is the crop's score. (Judged at a smaller size instead, the finalists picked badly:
 *    the model's verdict on a window depends on seeing it at full resolution.)
 *
 * The model alone barely minds a flat grey or blurred half beside a sharp one (it rates technical
 * condition over the whole input), hence the parts. A graph whose height and width are fixed (e.g. a ViT
 * with fixed position embeddings) gets tiles and finalists at its fixed size, preprocessed as the manifest
 * says (shortest edge, centre crop). Crops are scored image-only (no text): the text is the same for
 * every window.
 */
import { type Aspect, MAX_ASPECTS, parseAspects } from '../common/aspects.ts';
import { type Box, type DecodedImage, decodeImage, type ImageLimits, windowPixels } from './image.ts';
import type { LoadedModel } from './registry.ts';
import type { Feed } from './runtime.ts';
import { distributionStats } from './scores.ts';

export type { Aspect } from '../common/aspects.ts';

/** Most aspects one image may ask for (each costs about one full-size inference). */
export const MAX_CROP_ASPECTS = MAX_ASPECTS;

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
  /** Candidates rescored at full input size: 2 = the best by its parts and the best largest window. */
  refine?: number;
}

const DEFAULTS: Required<CropSearchOptions> = {
  scales: [1, 0.85, 0.7, 0.55],
  positions: 5,
  refine: 2,
};

/**
 * Score points a window gains per unit of scale: a smaller crop must be clearly better to win. 2.5 keeps
 * the photographer's framing unless a part of it is clearly weak (a window 30% smaller must cover parts
 * about 0.75 points better); with 1, clean photos were cut down to their busiest corner.
 */
const SIZE_PRIOR = 2.5;

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
  const n = Math.min(most, 1 + Math.ceil(slack / (0.25 * size)));
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
  const fixed = { width: spec.width, height: spec.height };
  // 1. The quality map: the model's score of square tiles, half the shorter side each, in one batch.
  const tiles = tileBoxes(W, H);
  const tileInput = dynamic ? { width: COARSE_SHORT, height: COARSE_SHORT } : fixed;
  const tileScores = await scoreWindows(model, image, tiles.map(toWork), tileInput, !dynamic);
  const partsOf = (b: Box) => {
    let sum = 0;
    let weight = 0;
    tiles.forEach((t, i) => {
      const w = overlap(b, t);
      sum += w * tileScores[i]!.goodness;
      weight += w;
    });
    return weight > 0 ? sum / weight : Number.NEGATIVE_INFINITY;
  };
  const out: CropBox[] = [];
  for (const aspect of aspects) {
    const a = aspect.width / aspect.height;
    const fullW = Math.min(W, H * a);
    const boxes = candidateBoxes(W, H, aspect, opts);
    // 2. Coarse: every candidate ranked by its parts (a weak part drags it down), larger preferred.
    const coarse = boxes.map((box) => {
      const scale = box.width / fullW;
      const parts = partsOf(box);
      return { box, parts, scale, rank: parts + SIZE_PRIOR * scale };
    });
    coarse.sort((x, y) => y.rank - x.rank);
    // Finalists: the best by its parts, and the best of the largest windows (the photographer's framing,
    // which the parts alone under-rate when the photo has plain areas such as sky).
    const largest = Math.max(...coarse.map((c) => c.scale));
    const finalists = [coarse[0]!];
    const framing = coarse.find((c) => c.scale === largest)!;
    // When the two mostly overlap, the full-size verdict would barely differ: one is enough.
    if (opts.refine > 1 && iou(framing.box, coarse[0]!.box) < SAME_WINDOW_IOU) finalists.push(framing);
    // 3. Fine: the finalists scored whole at full input size; the model's verdict, the parts and the size
    // decide together (the model alone barely minds a flat or blurred part beside a sharp one).
    const size = dynamic ? inputFor(a, area, maxSide) : fixed;
    const scored = await scoreWindows(
      model,
      image,
      finalists.map((c) => toWork(c.box)),
      size,
      !dynamic,
    );
    let best = 0;
    const final = (j: number) => scored[j]!.goodness + finalists[j]!.parts + SIZE_PRIOR * finalists[j]!.scale;
    for (let j = 1; j < scored.length; j++) if (final(j) > final(best)) best = j;
    out.push({ aspect: aspect.text, ...finalists[best]!.box, score: Number(scored[best]!.mean.toFixed(4)) });
  }
  return out;
}

/** Most tiles of the quality map (each costs a small inference). */
const MAX_TILES = 16;

/** Square tiles of half the shorter side, spread evenly to cover the image (at most MAX_TILES). */
export function tileBoxes(width: number, height: number): Box[] {
  let side = Math.max(1, Math.round(Math.min(width, height) / 2));
  let nx = Math.ceil(width / side);
  let ny = Math.ceil(height / side);
  while (nx * ny > MAX_TILES) {
    side = Math.ceil(side * 1.2);
    nx = Math.ceil(width / side);
    ny = Math.ceil(height / side);
  }
  const spread = (slack: number, n: number) =>
    n <= 1 ? [Math.floor(slack / 2)] : Array.from({ length: n }, (_, i) => Math.round((i * slack) / (n - 1)));
  const tw = Math.min(side, width);
  const th = Math.min(side, height);
  const out: Box[] = [];
  for (const top of spread(height - th, ny)) {
    for (const left of spread(width - tw, nx)) out.push({ left, top, width: tw, height: th });
  }
  return out;
}

/** Intersection over union above which two finalists count as one window. */
const SAME_WINDOW_IOU = 0.6;

function iou(a: Box, b: Box): number {
  const both = overlap(a, b);
  return both / (a.width * a.height + b.width * b.height - both);
}

function overlap(a: Box, b: Box): number {
  const w = Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left);
  const h = Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top);
  return w > 0 && h > 0 ? w * h : 0;
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
  for (const [i, b] of views.entries())
    pixels.set(windowPixels(image, b, size.width, size.height, spec), i * plane);
  const feeds: Record<string, Feed> = {
    [spec.name]: { data: pixels, dims: [n, 3, size.height, size.width] },
  };
  if (text && tokenizer) {
    feeds[text.idsName] = { data: new BigInt64Array(n * text.maxTokens), dims: [n, text.maxTokens] };
    feeds[text.maskName] = { data: new BigInt64Array(n * text.maxTokens), dims: [n, text.maxTokens] };
  }
  const { distribution } = manifest.outputs;
  // The feeds are built for this run only: moved to the inference worker, not copied.
  const { outputs: out } = await session.runMoving(feeds, [distribution.name]);
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
