/**
 * Image decoding and preprocessing. The only module that imports sharp.
 *
 * Untrusted input: only the loaders of the supported formats are reachable, byte and pixel limits are
 * checked before any pixel is decoded (the header is read first), animations are cut to their first frame, EXIF orientation is applied, every colour space is
 * converted to sRGB and alpha is flattened on white. Resize and crop follow the model's manifest;
 * sharp uses shrink-on-load for large JPEG/WebP inputs automatically when the target is much smaller.
 */
import { open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { readLimited } from '../common/bytes.ts';
import { ImageError, InvalidArgumentError } from '../common/errors.ts';
import { IMAGE_FORMATS } from '../common/image-types.ts';
import { positiveInteger } from '../common/validate.ts';

sharp.cache(false);
// One libvips thread per image: images are decoded several at a time (libuv's pool) beside
// onnxruntime's threads, so per-image threads would only oversubscribe the cores (same CPU per image,
// measured).
sharp.concurrency(1);

/**
 * Formats accepted. libvips reads AVIF as `heif` with AV1 compression (named `avif` here); HEIF with
 * HEVC (iPhone HEIC) is refused: sharp's prebuilt libvips has no HEVC decoder (lovell/sharp#4050).
 */
export const SUPPORTED_FORMATS = IMAGE_FORMATS;

/**
 * libvips loaders other than those of SUPPORTED_FORMATS (libvips class names; a name this build lacks is
 * ignored). Blocked process-wide, so untrusted bytes never reach a parser we do not use: not librsvg (SVG:
 * XML, entities, external hrefs), not libvips' own, PPM or CSV loaders. Blocked input is "unsupported
 * image format", as for bytes no loader recognises. A list, not "block every loader, then unblock ours":
 * each worker thread that loads this module applies it again, and it must never block our loaders for an
 * instant while another thread decodes. test/unit/image.test.ts fails when sharp gains an input format.
 */
export const BLOCKED_LOADERS = [
  'VipsForeignLoadSvg',
  'VipsForeignLoadVips',
  'VipsForeignLoadRaw',
  'VipsForeignLoadPpm',
  'VipsForeignLoadCsv',
  'VipsForeignLoadMatrix',
  'VipsForeignLoadRad',
  'VipsForeignLoadAnalyze',
  'VipsForeignLoadFits',
  'VipsForeignLoadMat',
  'VipsForeignLoadNifti',
  'VipsForeignLoadPdf',
  'VipsForeignLoadMagick',
  'VipsForeignLoadJp2k',
  'VipsForeignLoadJxl',
  'VipsForeignLoadOpenexr',
  'VipsForeignLoadOpenslide',
  'VipsForeignLoadDcRaw',
] as const;

/** Blocks BLOCKED_LOADERS; idempotent, and safe while other threads decode. Runs when this module loads. */
export function blockUnusedLoaders(): void {
  sharp.block({ operation: [...BLOCKED_LOADERS] });
}
blockUnusedLoaders();

/** ISO-BMFF brands of HEVC-coded HEIF (ISO/IEC 23008-12): image, sequence, and their variants. */
const HEVC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs']);
const AV1_BRANDS = new Set(['avif', 'avis']);

function heicUnsupported(): ImageError {
  return new ImageError(
    'IMAGE_UNSUPPORTED_FORMAT',
    'HEIC/HEIF (HEVC) cannot be decoded by this build; convert to JPEG/AVIF',
  );
}

/**
 * True when the bytes start with an ftyp box whose brands say HEVC-coded HEIF and none says AVIF: caught
 * before libheif, which may not even parse such a file's header.
 */
function isHevcHeif(bytes: Buffer): boolean {
  if (bytes.length < 16 || bytes.toString('latin1', 4, 8) !== 'ftyp') return false;
  const end = Math.min(bytes.readUInt32BE(0), bytes.length, 256);
  const brands = [bytes.toString('latin1', 8, 12)];
  for (let at = 16; at + 4 <= end; at += 4) brands.push(bytes.toString('latin1', at, at + 4));
  return brands.some((b) => HEVC_BRANDS.has(b)) && !brands.some((b) => AV1_BRANDS.has(b));
}

export interface ImageLimits {
  /** Largest encoded size accepted, in bytes. */
  maxBytes: number;
  /** Largest decoded size accepted, width x height. */
  maxPixels: number;
  /** Smallest width or height accepted. */
  minSide: number;
}

export const DEFAULT_LIMITS: Readonly<ImageLimits> = Object.freeze({
  maxBytes: 32 * 1024 * 1024,
  maxPixels: 64_000_000,
  minSide: 16,
});

export function resolveLimits(partial: Partial<ImageLimits> = {}): ImageLimits {
  return {
    maxBytes: positiveInteger('limits.maxBytes', partial.maxBytes ?? DEFAULT_LIMITS.maxBytes),
    maxPixels: positiveInteger('limits.maxPixels', partial.maxPixels ?? DEFAULT_LIMITS.maxPixels),
    minSide: positiveInteger('limits.minSide', partial.minSide ?? DEFAULT_LIMITS.minSide),
  };
}

/** How a model wants its pixels: the `inputs.image` block of a manifest. */
export interface ImageSpec {
  height: number;
  width: number;
  resize: { mode: 'shortest-edge'; size: number } | { mode: 'exact' };
  crop: 'center' | 'none';
  rescale: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export interface ImageInfo {
  format: string;
  width: number;
  height: number;
  bytes: number;
  /** EXIF orientation tag as found (1 = upright), applied before resizing. */
  orientation: number;
}

export interface PreparedImage {
  /** Normalised CHW float32 pixels (one image of the batch), length 3 * height * width. */
  pixels: Float32Array;
  info: ImageInfo;
  /** Perceptual hash of the whole oriented image (before the centre crop): 16 lowercase hex digits. */
  phash: string;
}

export interface ModelInput {
  /**
   * The model's input as interleaved uint8 RGB (HWC), height x width x 3: a quarter of the float32
   * size. `toNormalisedChw` turns it into the model's float32 planes, straight into a batch tensor.
   */
  hwc: Uint8Array;
  info: ImageInfo;
  /** Perceptual hash of the whole oriented image (before the centre crop): 16 lowercase hex digits. */
  phash: string;
}

/** Reads a whole stream into memory, failing as soon as it passes maxBytes. */
export async function readStream(
  stream: Readable | AsyncIterable<Uint8Array>,
  maxBytes: number,
): Promise<Buffer> {
  return readLimited(stream as AsyncIterable<Uint8Array>, maxBytes, (received) =>
    tooManyBytes(received, maxBytes),
  );
}

/** Reads a file after checking its size, so a huge file is rejected without being read. */
export async function readImageFile(path: string, maxBytes: number): Promise<Buffer> {
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile())
      throw new ImageError('IMAGE_NOT_FOUND', `Expected a file at ${path} but found a directory or device`);
    size = st.size;
  } catch (error) {
    if (error instanceof ImageError) throw error;
    throw new ImageError(
      'IMAGE_NOT_FOUND',
      `Expected a readable image file at ${path} but it does not exist or cannot be read`,
      {
        cause: error,
      },
    );
  }
  if (size > maxBytes) throw tooManyBytes(String(size), maxBytes);
  const handle = await open(path, 'r');
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

function tooManyBytes(received: string, maxBytes: number): ImageError {
  return new ImageError(
    'IMAGE_TOO_MANY_BYTES',
    `Expected an image of at most ${maxBytes} bytes but received ${received} bytes`,
  );
}

/** Maps libvips/sharp failures onto our stable codes. */
function decodeError(error: unknown): ImageError {
  const text = error instanceof Error ? error.message : String(error);
  if (/unsupported image format/i.test(text)) {
    return new ImageError(
      'IMAGE_UNSUPPORTED_FORMAT',
      `Expected an image in one of ${SUPPORTED_FORMATS.join(', ')} but the bytes are not a recognised image`,
      { cause: error },
    );
  }
  if (/pixel limit/i.test(text)) {
    return new ImageError(
      'IMAGE_TOO_MANY_PIXELS',
      'Expected an image within the pixel limit but the decoder refused it',
      {
        cause: error,
      },
    );
  }
  return new ImageError(
    'IMAGE_CORRUPT',
    `Expected a complete, valid image but decoding failed (truncated or corrupt data): ${firstLine(text)}`,
    {
      cause: error,
    },
  );
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').trim();
}

/** Reads the header only: format, dimensions, orientation. Enforces every limit before decoding. */
export async function inspectImage(bytes: Buffer, limits: ImageLimits): Promise<ImageInfo> {
  if (bytes.length === 0)
    throw new ImageError('IMAGE_EMPTY', 'Expected image bytes but received an empty body');
  if (bytes.length > limits.maxBytes) throw tooManyBytes(String(bytes.length), limits.maxBytes);
  if (isHevcHeif(bytes)) throw heicUnsupported();
  let meta: Metadata;
  try {
    // limitInputPixels: false here because we enforce our own limit with a precise message below.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw decodeError(error);
  }
  let format: string = meta.format ?? 'unknown';
  if (format === 'heif') {
    // Brands can mislead (mif1 only); the compression libheif reports is what decides.
    if (meta.compression !== 'av1') throw heicUnsupported();
    format = 'avif';
  }
  if (!(SUPPORTED_FORMATS as readonly string[]).includes(format)) {
    throw new ImageError(
      'IMAGE_UNSUPPORTED_FORMAT',
      `Expected an image in one of ${SUPPORTED_FORMATS.join(', ')} but received ${format}`,
    );
  }
  const width = meta.width ?? 0;
  // For animations, metadata height covers one page unless pageHeight says otherwise.
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width * height > limits.maxPixels) {
    throw new ImageError(
      'IMAGE_TOO_MANY_PIXELS',
      `Expected an image of at most ${limits.maxPixels} pixels but received ${width}x${height} (${width * height} pixels)`,
    );
  }
  if (width < limits.minSide || height < limits.minSide) {
    throw new ImageError(
      'IMAGE_TOO_SMALL',
      `Expected an image at least ${limits.minSide}x${limits.minSide} pixels but received ${width}x${height}`,
    );
  }
  return { format, width, height, bytes: bytes.length, orientation: meta.orientation ?? 1 };
}

/**
 * Decodes, orients, converts to sRGB, resizes/crops as `spec` says and returns normalised CHW float32.
 */
export async function prepareImage(
  bytes: Buffer,
  spec: ImageSpec,
  limits: ImageLimits,
): Promise<PreparedImage> {
  const { hwc, info, phash } = await decodeModelInput(bytes, spec, limits);
  return { pixels: toNormalisedChw(hwc, spec), info, phash };
}

/** A decode under way in libvips: `done` settles with the model input when libvips has finished. */
export interface DecodeJob {
  done: Promise<ModelInput>;
}

/**
 * Decodes, orients, converts to sRGB and resizes/crops as `spec` says, to uint8 RGB at the model's size.
 * JPEG and WebP decode with shrink-on-load (libvips picks the largest DCT/scale-down that stays above
 * the resize target), so a 12 MP JPEG is never decoded at full size for a 448 px model.
 */
export async function decodeModelInput(
  bytes: Buffer,
  spec: ImageSpec,
  limits: ImageLimits,
): Promise<ModelInput> {
  return (await startModelInputDecode(bytes, spec, limits)).done;
}

/**
 * `decodeModelInput` in two steps: resolves once the header is read and the decode is running in
 * libvips (off this thread), with the job. The scorer starts the next batch's decodes this far before
 * it hands a batch to the inference worker, so they run beside it.
 */
export async function startModelInputDecode(
  bytes: Buffer,
  spec: ImageSpec,
  limits: ImageLimits,
): Promise<DecodeJob> {
  const info = await inspectImage(bytes, limits);
  let raw: Promise<{ data: Buffer; info: OutputInfo }>;
  try {
    let pipeline = sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'warning', pages: 1, page: 0 })
      .autoOrient()
      .toColourspace('srgb')
      .flatten({ background: { r: 255, g: 255, b: 255 } });
    if (spec.resize.mode === 'exact') {
      pipeline = pipeline.resize({ width: spec.width, height: spec.height, fit: 'fill', kernel: 'lanczos3' });
    } else {
      // Shortest edge to `size`, then (optionally) a centre crop to height x width: sharp's `cover`
      // with centre gravity is exactly that when size covers the crop.
      const { size } = spec.resize;
      const [w, h] = orientedSize(info);
      const scale = size / Math.min(w, h);
      const rw = Math.max(spec.width, Math.round(w * scale));
      const rh = Math.max(spec.height, Math.round(h * scale));
      pipeline = pipeline.resize({ width: rw, height: rh, fit: 'fill', kernel: 'lanczos3' });
    }
    raw = pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw decodeError(error);
  }
  return {
    done: raw.then(
      (decoded) => finishModelInput(decoded, info, spec),
      (error: unknown) => {
        throw decodeError(error);
      },
    ),
  };
}

function finishModelInput(
  raw: { data: Buffer; info: OutputInfo },
  info: ImageInfo,
  spec: ImageSpec,
): ModelInput {
  // The centre crop is cut here rather than in sharp, so the perceptual hash sees the whole image.
  const { width: rw, height: rh, channels } = raw.info;
  const centre = spec.resize.mode === 'shortest-edge' && spec.crop === 'center';
  if (
    channels !== 3 ||
    (centre ? rw < spec.width || rh < spec.height : rw !== spec.width || rh !== spec.height)
  ) {
    throw new ImageError(
      'IMAGE_CORRUPT',
      `Expected ${spec.width}x${spec.height} RGB after preprocessing but received ${rw}x${rh} with ${channels} channels`,
    );
  }
  const phash = perceptualHash(raw.data, rw, rh);
  const view =
    rw === spec.width && rh === spec.height
      ? raw.data
      : cropHwc(raw.data, rw, Math.floor((rw - spec.width) / 2), Math.floor((rh - spec.height) / 2), spec);
  return { hwc: view, info, phash };
}

/** The width x height window at (left, top) of an HWC RGB buffer `stride` pixels wide. */
function cropHwc(
  hwc: Uint8Array,
  stride: number,
  left: number,
  top: number,
  size: { width: number; height: number },
): Uint8Array {
  const out = new Uint8Array(size.width * size.height * 3);
  for (let y = 0; y < size.height; y++) {
    const from = ((top + y) * stride + left) * 3;
    out.set(hwc.subarray(from, from + size.width * 3), y * size.width * 3);
  }
  return out;
}

/** Side of the greyscale thumbnail the perceptual hash is computed from. */
const HASH_SIDE = 32;
const DCT_COS = Array.from({ length: 8 }, (_, k) =>
  Float64Array.from({ length: HASH_SIDE }, (_, n) => Math.cos((Math.PI / HASH_SIDE) * (n + 0.5) * k)),
);

/**
 * Mean luminance (0.299 R + 0.587 G + 0.114 B) of each of HASH_SIDE x HASH_SIDE cells of an HWC RGB image,
 * pixel (x, y) in cell (floor(x * SIDE / width), floor(y * SIDE / height)); row-major.
 */
export function cellLuminance(hwc: Uint8Array, width: number, height: number): Float64Array {
  // Area average into HASH_SIDE x HASH_SIDE cells. Pixel x falls in cell column floor(x * SIDE / width),
  // so each column is a run of x; exact integer sums per channel and cell, luminance once per cell
  // (about twice as fast as weighting every pixel; test/unit/image.test.ts checks it against the definition).
  const start = new Int32Array(HASH_SIDE + 1);
  for (let gx = 0; gx <= HASH_SIDE; gx++) start[gx] = Math.ceil((gx * width) / HASH_SIDE);
  const sums = new Float64Array(3 * HASH_SIDE * HASH_SIDE);
  const perRow = new Float64Array(HASH_SIDE);
  for (let y = 0; y < height; y++) {
    const gy = Math.min(HASH_SIDE - 1, Math.floor((y * HASH_SIDE) / height));
    perRow[gy]! += 1;
    for (let gx = 0; gx < HASH_SIDE; gx++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let x = start[gx]!, i = (y * width + x) * 3; x < start[gx + 1]!; x++, i += 3) {
        r += hwc[i]!;
        g += hwc[i + 1]!;
        b += hwc[i + 2]!;
      }
      const k = 3 * (gy * HASH_SIDE + gx);
      sums[k]! += r;
      sums[k + 1]! += g;
      sums[k + 2]! += b;
    }
  }
  const grid = new Float64Array(HASH_SIDE * HASH_SIDE);
  for (let gy = 0; gy < HASH_SIDE; gy++) {
    for (let gx = 0; gx < HASH_SIDE; gx++) {
      const k = gy * HASH_SIDE + gx;
      const pixels = perRow[gy]! * (start[gx + 1]! - start[gx]!);
      const lum = 0.299 * sums[3 * k]! + 0.587 * sums[3 * k + 1]! + 0.114 * sums[3 * k + 2]!;
      grid[k] = lum / Math.max(1, pixels);
    }
  }
  return grid;
}

/**
 * pHash (DCT hash) of an HWC RGB image: luminance, area-averaged to 32x32 (aspect ignored), the 8x8
 * lowest DCT frequencies, one bit per coefficient: above the median of the 63 non-DC ones. 64 bits as
 * 16 lowercase hex digits. Resizes and re-encodes move it by a few bits, other photos by about half of
 * the 64 (docs/API.md, "Near-duplicates", has the measured rule).
 */
export function perceptualHash(hwc: Uint8Array, width: number, height: number): string {
  const grid = cellLuminance(hwc, width, height);
  // Separable DCT-II, keeping the 8 lowest frequencies on each axis.
  const rows = new Float64Array(HASH_SIDE * 8);
  for (let y = 0; y < HASH_SIDE; y++) {
    for (let k = 0; k < 8; k++) {
      let sum = 0;
      for (let n = 0; n < HASH_SIDE; n++) sum += grid[y * HASH_SIDE + n]! * DCT_COS[k]![n]!;
      rows[y * 8 + k] = sum;
    }
  }
  const coef = new Float64Array(64);
  for (let kx = 0; kx < 8; kx++) {
    for (let ky = 0; ky < 8; ky++) {
      let sum = 0;
      for (let n = 0; n < HASH_SIDE; n++) sum += rows[n * 8 + kx]! * DCT_COS[ky]![n]!;
      coef[ky * 8 + kx] = sum;
    }
  }
  const ac = Array.from(coef.subarray(1)).sort((a, b) => a - b);
  const median = (ac[31]! + ac[32]!) / 2;
  let hex = '';
  for (let nibble = 0; nibble < 16; nibble++) {
    let v = 0;
    for (let b = 0; b < 4; b++) v = (v << 1) | (coef[nibble * 4 + b]! > median ? 1 : 0);
    hex += v.toString(16);
  }
  return hex;
}

/** Bits that differ between two 16-hex-digit perceptual hashes (0-64). */
export function hammingDistance(a: string, b: string): number {
  if (!/^[0-9a-f]{16}$/.test(a) || !/^[0-9a-f]{16}$/.test(b)) {
    throw new InvalidArgumentError(`Expected two 16-digit lowercase hex hashes but received ${a} and ${b}`);
  }
  let bits = 0;
  for (let i = 0; i < 16; i++) {
    let x = Number.parseInt(a[i]!, 16) ^ Number.parseInt(b[i]!, 16);
    while (x) {
      bits += x & 1;
      x >>= 1;
    }
  }
  return bits;
}

/** Width and height after EXIF orientation (5-8 swap the axes). */
export function orientedSize(info: ImageInfo): [number, number] {
  return info.orientation >= 5 ? [info.height, info.width] : [info.width, info.height];
}

type NormaliseSpec = Pick<ImageSpec, 'height' | 'width' | 'rescale' | 'mean' | 'std'>;

/**
 * One float32 table per channel: `table[c * 256 + v]` = v * rescale / std[c] - mean[c] / std[c], the
 * same double expression the planes were always computed with, rounded to float32 once.
 */
function normaliseTable(spec: NormaliseSpec): Float32Array {
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const scale = spec.rescale / spec.std[c]!;
    const shift = spec.mean[c]! / spec.std[c]!;
    for (let v = 0; v < 256; v++) table[c * 256 + v] = v * scale - shift;
  }
  return table;
}

const tables = new WeakMap<NormaliseSpec, Float32Array>();

/**
 * HWC uint8 RGB → CHW float32, (x * rescale - mean) / std per channel, in one pass through a lookup
 * table. Writes into `out` at `offset` (a slot of a batch tensor) when given, else into a new array.
 */
export function toNormalisedChw(
  hwc: Uint8Array,
  spec: NormaliseSpec,
  out: Float32Array = new Float32Array(3 * spec.height * spec.width),
  offset = 0,
): Float32Array {
  const plane = spec.height * spec.width;
  if (hwc.length !== 3 * plane || offset < 0 || offset + 3 * plane > out.length) {
    throw new RangeError(
      `Expected ${3 * plane} HWC bytes into a slot of ${3 * plane} floats at ${offset} of ${out.length}, got ${hwc.length} bytes`,
    );
  }
  let table = tables.get(spec);
  if (table === undefined) {
    table = normaliseTable(spec);
    tables.set(spec, table);
  }
  const r = offset;
  const g = offset + plane;
  const b = offset + 2 * plane;
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    out[r + i] = table[hwc[j]!]!;
    out[g + i] = table[256 + hwc[j + 1]!]!;
    out[b + i] = table[512 + hwc[j + 2]!]!;
  }
  return out;
}

/** A box in pixels: integers, inside the image it refers to. */
export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The whole image decoded once (oriented, sRGB, alpha on white), HWC RGB, for cutting many windows. */
export interface DecodedImage {
  data: Buffer;
  width: number;
  height: number;
  info: ImageInfo;
  /** Width and height after EXIF orientation, at full resolution: what crop boxes refer to. */
  oriented: { width: number; height: number };
}

/**
 * Decodes the image once for a crop search: oriented as prepareImage orients it, shrunk (on load for JPEG
 * and WebP) so its shorter side is at most `maxShortSide`, never enlarged.
 */
export async function decodeImage(
  bytes: Buffer,
  limits: ImageLimits,
  maxShortSide: number,
): Promise<DecodedImage> {
  const info = await inspectImage(bytes, limits);
  const [ow, oh] = orientedSize(info);
  const scale = Math.min(1, maxShortSide / Math.min(ow, oh));
  const width = Math.max(1, Math.round(ow * scale));
  const height = Math.max(1, Math.round(oh * scale));
  try {
    let pipeline = sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'warning', pages: 1, page: 0 })
      .autoOrient()
      .toColourspace('srgb')
      .flatten({ background: { r: 255, g: 255, b: 255 } });
    if (scale < 1) pipeline = pipeline.resize({ width, height, fit: 'fill', kernel: 'lanczos3' });
    const raw = await pipeline.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (raw.info.channels !== 3 || raw.info.width !== width || raw.info.height !== height) {
      throw new ImageError(
        'IMAGE_CORRUPT',
        `Expected ${width}x${height} RGB after decoding but received ${raw.info.width}x${raw.info.height} with ${raw.info.channels} channels`,
      );
    }
    return { data: raw.data, width, height, info, oriented: { width: ow, height: oh } };
  } catch (error) {
    if (error instanceof ImageError) throw error;
    throw decodeError(error);
  }
}

/**
 * One window of a decoded image (`box` in the decoded image's pixels) resized to `width` x `height` and
 * normalised as `spec` says: CHW float32. Resampled here, not by sharp: an area average when shrinking,
 * bilinear when enlarging; a few milliseconds per window, where a sharp pipeline per window cost more
 * than the window's inference.
 */
export function windowPixels(
  image: DecodedImage,
  box: Box,
  width: number,
  height: number,
  spec: Pick<ImageSpec, 'rescale' | 'mean' | 'std'>,
): Float32Array {
  const src = image.data;
  const stride = image.width;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  const fx = box.width / width;
  const fy = box.height / height;
  const scale = spec.rescale;
  for (let y = 0; y < height; y++) {
    const sy0 = box.top + y * fy;
    const y0 = Math.min(image.height - 1, Math.floor(sy0));
    const y1 = fy >= 1 ? Math.max(y0 + 1, Math.min(image.height, Math.floor(sy0 + fy))) : y0 + 1;
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      if (fx >= 1 && fy >= 1) {
        const sx0 = box.left + x * fx;
        const x0 = Math.min(image.width - 1, Math.floor(sx0));
        const x1 = Math.max(x0 + 1, Math.min(image.width, Math.floor(sx0 + fx)));
        for (let yy = y0; yy < y1; yy++) {
          let i = (yy * stride + x0) * 3;
          for (let xx = x0; xx < x1; xx++, i += 3) {
            r += src[i]!;
            g += src[i + 1]!;
            b += src[i + 2]!;
          }
        }
        const n = (y1 - y0) * (x1 - x0);
        r /= n;
        g /= n;
        b /= n;
      } else {
        // Bilinear at the output pixel's centre, clamped to the box.
        const sx = Math.min(box.left + box.width - 1, Math.max(box.left, box.left + (x + 0.5) * fx - 0.5));
        const sy = Math.min(box.top + box.height - 1, Math.max(box.top, box.top + (y + 0.5) * fy - 0.5));
        const xa = Math.floor(sx);
        const ya = Math.floor(sy);
        const xb = Math.min(image.width - 1, xa + 1);
        const yb = Math.min(image.height - 1, ya + 1);
        const wx = sx - xa;
        const wy = sy - ya;
        for (let c = 0; c < 3; c++) {
          const top = src[(ya * stride + xa) * 3 + c]! * (1 - wx) + src[(ya * stride + xb) * 3 + c]! * wx;
          const bottom = src[(yb * stride + xa) * 3 + c]! * (1 - wx) + src[(yb * stride + xb) * 3 + c]! * wx;
          const v = top * (1 - wy) + bottom * wy;
          if (c === 0) r = v;
          else if (c === 1) g = v;
          else b = v;
        }
      }
      const o = y * width + x;
      out[o] = (r * scale - spec.mean[0]) / spec.std[0];
      out[plane + o] = (g * scale - spec.mean[1]) / spec.std[1];
      out[2 * plane + o] = (b * scale - spec.mean[2]) / spec.std[2];
    }
  }
  return out;
}

/** Encoded crop of an image: `box` in the oriented image's pixels. */
export interface EncodedCrop {
  data: Buffer;
  /** File suffix of the encoding: the input's format where sharp writes it, else jpg. */
  extension: 'jpg' | 'png' | 'webp' | 'avif' | 'tiff' | 'gif';
}

/**
 * Cuts `box` (oriented pixels, as crops report it) out of the image at full resolution and encodes it
 * in the input's format (JPEG quality 90). The box is checked against the oriented size first.
 */
export async function extractCrop(bytes: Buffer, box: Box, limits: ImageLimits): Promise<EncodedCrop> {
  const info = await inspectImage(bytes, limits);
  const [ow, oh] = orientedSize(info);
  const whole = [box.left, box.top, box.width, box.height].every((v) => Number.isInteger(v) && v >= 0);
  if (!whole || box.width < 1 || box.height < 1 || box.left + box.width > ow || box.top + box.height > oh) {
    throw new InvalidArgumentError(
      `Expected a crop box inside the ${ow}x${oh} image but received ${box.width}x${box.height} at (${box.left}, ${box.top})`,
    );
  }
  try {
    const pipeline = sharp(bytes, {
      limitInputPixels: limits.maxPixels,
      failOn: 'warning',
      pages: 1,
      page: 0,
    })
      .autoOrient()
      .extract(box);
    switch (info.format) {
      case 'png':
        return { data: await pipeline.png().toBuffer(), extension: 'png' };
      case 'webp':
        return { data: await pipeline.webp({ quality: 90 }).toBuffer(), extension: 'webp' };
      case 'avif':
        return { data: await pipeline.avif({ quality: 70 }).toBuffer(), extension: 'avif' };
      case 'tiff':
        return { data: await pipeline.tiff().toBuffer(), extension: 'tiff' };
      case 'gif':
        return { data: await pipeline.gif().toBuffer(), extension: 'gif' };
      default:
        return { data: await pipeline.jpeg({ quality: 90 }).toBuffer(), extension: 'jpg' };
    }
  } catch (error) {
    throw decodeError(error);
  }
}
