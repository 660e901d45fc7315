import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ImageError } from '#core/common/errors.ts';
import {
  blockUnusedLoaders,
  cellLuminance,
  hammingDistance,
  type ImageSpec,
  inspectImage,
  prepareImage,
  readImageFile,
  readStream,
  resolveLimits,
  toNormalisedChw,
} from '#core/model/image.ts';
import {
  avif,
  halves,
  heicBranded,
  heicHeaderOnly,
  patternJpeg,
  pngHeaderOnly,
  solid,
} from '../helpers/images.ts';

const spec = (size = 8, extra: Partial<ImageSpec> = {}): ImageSpec => ({
  height: size,
  width: size,
  resize: { mode: 'shortest-edge', size },
  crop: 'center',
  rescale: 1 / 255,
  mean: [0, 0, 0],
  std: [1, 1, 1],
  ...extra,
});
const limits = resolveLimits();

async function rejects(promise: Promise<unknown>): Promise<ImageError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageError);
  return error as ImageError;
}

function channelMeans(pixels: Float32Array, plane: number): number[] {
  return [0, 1, 2].map((c) => pixels.subarray(c * plane, (c + 1) * plane).reduce((a, b) => a + b, 0) / plane);
}

describe('typed image errors', () => {
  it('rejects an empty body with IMAGE_EMPTY', async () => {
    const e = await rejects(prepareImage(Buffer.alloc(0), spec(), limits));
    expect(e.code).toBe('IMAGE_EMPTY');
    expect(e.status).toBe(422);
    expect(e.message).toBe('Expected image bytes but received an empty body');
  });

  it('rejects bytes that are not an image with IMAGE_UNSUPPORTED_FORMAT', async () => {
    const e = await rejects(prepareImage(Buffer.from('{"not":"an image"}'), spec(), limits));
    expect(e.code).toBe('IMAGE_UNSUPPORTED_FORMAT');
    expect(e.status).toBe(415);
    expect(e.message).toBe(
      'Expected an image in one of jpeg, png, webp, gif, avif, tiff but the bytes are not a recognised image',
    );
  });

  it('never hands SVG to librsvg: its loader is blocked, so SVG is not a recognised image', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>',
    );
    const e = await rejects(prepareImage(svg, spec(), limits));
    expect(e.code).toBe('IMAGE_UNSUPPORTED_FORMAT');
    expect(e.message).toBe(
      'Expected an image in one of jpeg, png, webp, gif, avif, tiff but the bytes are not a recognised image',
    );
    // Process-wide, once image.ts is loaded: even sharp called directly no longer parses SVG.
    await expect(sharp(svg).metadata()).rejects.toThrow(/unsupported image format/);
  });

  it('knows every input format of this sharp build: a new one must be blocked or supported first', () => {
    const inputs = Object.entries(sharp.format)
      .filter(([, f]) => f.input.buffer || f.input.file || f.input.stream)
      .map(([name]) => name)
      .sort();
    // svg and vips: blocked (BLOCKED_LOADERS); raw: sharp's own pixel input, not a libvips loader.
    expect(inputs).toEqual(['gif', 'heif', 'jpeg', 'png', 'raw', 'svg', 'tiff', 'vips', 'webp']);
  });

  it('blocking again while other threads decode never fails their decode (worker threads reload it)', async () => {
    const jpeg = await patternJpeg(64, 64);
    const decodes = Array.from({ length: 40 }, () =>
      sharp(jpeg)
        .raw()
        .toBuffer()
        .then(() => 'ok'),
    );
    const until = Date.now() + 300;
    while (Date.now() < until) blockUnusedLoaders();
    const outcomes = await Promise.all(decodes.map((d) => d.catch((e: Error) => e.message)));
    expect(outcomes).toEqual(Array(40).fill('ok'));
  });

  it('keeps the loader of every supported format reachable', async () => {
    const base = () => sharp({ create: { width: 24, height: 24, channels: 3, background: '#808080' } });
    const encoded: [string, Buffer][] = [
      ['jpeg', await base().jpeg().toBuffer()],
      ['png', await base().png().toBuffer()],
      ['webp', await base().webp().toBuffer()],
      ['gif', await base().gif().toBuffer()],
      ['avif', await base().avif().toBuffer()],
      ['tiff', await base().tiff().toBuffer()],
    ];
    for (const [format, bytes] of encoded) {
      const { info } = await prepareImage(bytes, spec(), limits);
      expect([format, info.format]).toEqual([format, format]);
    }
  });

  it('refuses HEIC/HEIF (HEVC), which the prebuilt libvips cannot decode, and says what to do', async () => {
    const branded = await heicBranded(32, 32);
    expect((await sharp(branded).metadata()).compression).toBe('hevc');
    for (const bytes of [branded, heicHeaderOnly()]) {
      const e = await rejects(prepareImage(bytes, spec(), limits));
      expect(e.code).toBe('IMAGE_UNSUPPORTED_FORMAT');
      expect(e.status).toBe(415);
      expect(e.message).toBe('HEIC/HEIF (HEVC) cannot be decoded by this build; convert to JPEG/AVIF');
    }
  });

  it('decodes AVIF (AV1-coded HEIF) and names it avif', async () => {
    const bytes = await avif(32, 32);
    expect(await sharp(bytes).metadata()).toMatchObject({ format: 'heif', compression: 'av1' });
    const { info, pixels } = await prepareImage(bytes, spec(), limits);
    expect(info).toMatchObject({ format: 'avif', width: 32, height: 32 });
    expect(channelMeans(pixels, 64)[0]).toBeCloseTo(200 / 255, 1);
  });

  it('rejects a truncated JPEG with IMAGE_CORRUPT', async () => {
    const jpeg = await patternJpeg(256, 256);
    const e = await rejects(prepareImage(jpeg.subarray(0, Math.floor(jpeg.length / 2)), spec(), limits));
    expect(e.code).toBe('IMAGE_CORRUPT');
    // Our sentence, then libvips' own words (which differ between libvips versions).
    expect(e.message).toMatch(
      /^Expected a complete, valid image but decoding failed \(truncated or corrupt data\): \S.*$/,
    );
  });

  it('rejects a decompression bomb from its header, before decoding', async () => {
    // The PNG is a header without pixel data: had it been decoded, the error would be IMAGE_CORRUPT.
    const e = await rejects(prepareImage(pngHeaderOnly(100_000, 100_000), spec(), limits));
    expect(e.code).toBe('IMAGE_TOO_MANY_PIXELS');
    expect(e.status).toBe(413);
    expect(e.message).toBe(
      'Expected an image of at most 64000000 pixels but received 100000x100000 (10000000000 pixels)',
    );
  });

  it('applies a custom pixel limit', async () => {
    const e = await rejects(
      prepareImage(await solid(100, 100, { r: 0, g: 0, b: 0 }), spec(), resolveLimits({ maxPixels: 9999 })),
    );
    expect(e.message).toBe('Expected an image of at most 9999 pixels but received 100x100 (10000 pixels)');
  });

  it('rejects too many bytes with IMAGE_TOO_MANY_BYTES', async () => {
    const png = await solid(64, 64, { r: 1, g: 2, b: 3 });
    const e = await rejects(prepareImage(png, spec(), resolveLimits({ maxBytes: 100 })));
    expect(e.code).toBe('IMAGE_TOO_MANY_BYTES');
    expect(e.message).toBe(`Expected an image of at most 100 bytes but received ${png.length} bytes`);
  });

  it('stops reading a stream as soon as it passes the byte limit', async () => {
    let pulled = 0;
    async function* chunks() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield Buffer.alloc(1024);
      }
    }
    const e = await rejects(readStream(Readable.from(chunks()), 4096));
    expect(e.code).toBe('IMAGE_TOO_MANY_BYTES');
    expect(e.message).toBe('Expected an image of at most 4096 bytes but received more than 5120 bytes');
    expect(pulled).toBeLessThan(10);
  });

  it('checks a file size before reading it, and reports a missing file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mmlq-img-'));
    const path = join(dir, 'big.png');
    await writeFile(path, Buffer.alloc(5000));
    expect((await rejects(readImageFile(path, 4000))).message).toBe(
      'Expected an image of at most 4000 bytes but received 5000 bytes',
    );
    const missing = await rejects(readImageFile(join(dir, 'nope.jpg'), 4000));
    expect(missing.code).toBe('IMAGE_NOT_FOUND');
    expect(missing.message).toBe(
      `Expected a readable image file at ${join(dir, 'nope.jpg')} but it does not exist or cannot be read`,
    );
  });

  it('rejects images smaller than the minimum side with IMAGE_TOO_SMALL', async () => {
    const e = await rejects(prepareImage(await solid(10, 6, { r: 0, g: 0, b: 0 }), spec(), limits));
    expect(e.code).toBe('IMAGE_TOO_SMALL');
    expect(e.message).toBe('Expected an image at least 16x16 pixels but received 10x6');
  });
});

describe('preprocessing', () => {
  it('produces CHW float32 of exactly 3 x H x W with the colour normalised', async () => {
    const out = await prepareImage(await solid(40, 30, { r: 255, g: 128, b: 0 }), spec(8), limits);
    expect(out.pixels).toBeInstanceOf(Float32Array);
    expect(out.pixels.length).toBe(3 * 8 * 8);
    expect(out.info).toEqual({
      format: 'png',
      width: 40,
      height: 30,
      bytes: expect.any(Number),
      orientation: 1,
    });
    const [r, g, b] = channelMeans(out.pixels, 64);
    expect(r).toBeCloseTo(1, 6);
    expect(g).toBeCloseTo(128 / 255, 6);
    expect(b).toBeCloseTo(0, 6);
  });

  it('applies mean and std per channel', () => {
    const hwc = new Uint8Array([255, 0, 51, 0, 255, 102]);
    const chw = toNormalisedChw(hwc, {
      height: 1,
      width: 2,
      rescale: 1 / 255,
      mean: [0.5, 0.5, 0.2],
      std: [0.5, 0.25, 0.1],
    });
    const expected = [1, -1, -2, 2, 0, 2];
    for (const [i, v] of expected.entries()) expect(chw[i]).toBeCloseTo(v, 5);
  });

  it('normalises every byte value exactly as (x * rescale - mean) / std per channel, in float32', () => {
    const norm = {
      height: 16,
      width: 16,
      rescale: 1 / 255,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
    } as const;
    const hwc = new Uint8Array(3 * 256).map((_, i) => Math.floor(i / 3)); // pixel i = (i, i, i)
    const chw = toNormalisedChw(hwc, norm);
    for (let c = 0; c < 3; c++) {
      for (let v = 0; v < 256; v++) {
        const want = Math.fround(v * (norm.rescale / norm.std[c]!) - norm.mean[c]! / norm.std[c]!);
        expect(chw[c * 256 + v]).toBe(want);
      }
    }
  });

  it('writes one image into its slot of a batch tensor and leaves the other slots alone', () => {
    const norm = { height: 1, width: 2, rescale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] } as const;
    const batch = new Float32Array(3 * 6).fill(-7);
    toNormalisedChw(new Uint8Array([255, 0, 51, 0, 255, 102]), norm, batch, 6);
    expect(Array.from(batch.subarray(0, 6))).toEqual([-7, -7, -7, -7, -7, -7]);
    expect(Array.from(batch.subarray(6, 12)).map((v) => Number(v.toFixed(4)))).toEqual([
      1, 0, 0, 1, 0.2, 0.4,
    ]);
    expect(Array.from(batch.subarray(12))).toEqual([-7, -7, -7, -7, -7, -7]);
    expect(() => toNormalisedChw(new Uint8Array(5), norm, batch, 0)).toThrow(RangeError);
    expect(() => toNormalisedChw(new Uint8Array(6), norm, batch, 13)).toThrow(RangeError);
  });

  it('centre-crops after resizing the shortest edge (left/right halves of a wide image)', async () => {
    // 64x16 image: left half red, right half blue → short side 8 gives 32x8, centre 8x8 straddles the middle.
    const out = await prepareImage(
      await halves(64, 16, { r: 255, g: 0, b: 0 }, { r: 0, g: 0, b: 255 }),
      spec(8),
      limits,
    );
    const row = Array.from(out.pixels.subarray(0, 8)); // red channel of the first row
    expect(row[0]).toBeCloseTo(1, 1);
    expect(row[7]).toBeCloseTo(0, 1);
    const [r, , b] = channelMeans(out.pixels, 64);
    expect(r).toBeCloseTo(0.5, 1);
    expect(b).toBeCloseTo(0.5, 1);
  });

  it('stretches with resize mode exact', async () => {
    const out = await prepareImage(
      await halves(64, 16, { r: 255, g: 0, b: 0 }, { r: 0, g: 0, b: 255 }),
      spec(8, { resize: { mode: 'exact' }, crop: 'none' }),
      limits,
    );
    const [r, , b] = channelMeans(out.pixels, 64);
    expect(r).toBeCloseTo(0.5, 1);
    expect(b).toBeCloseTo(0.5, 1);
  });

  it('applies EXIF orientation: a rotated file with orientation 6 equals its upright twin', async () => {
    const upright = await halves(64, 32, { r: 255, g: 0, b: 0 }, { r: 0, g: 255, b: 0 });
    // Stored pixels are the upright image turned 90° counter-clockwise; tag 6 says "turn clockwise to view".
    const stored = await sharp(upright).rotate(270).withMetadata({ orientation: 6 }).png().toBuffer();
    expect((await sharp(stored).metadata()).orientation).toBe(6);
    const a = await prepareImage(upright, spec(16, { resize: { mode: 'exact' }, crop: 'none' }), limits);
    const b = await prepareImage(stored, spec(16, { resize: { mode: 'exact' }, crop: 'none' }), limits);
    expect(b.info.orientation).toBe(6);
    let maxDiff = 0;
    for (let i = 0; i < a.pixels.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs(a.pixels[i]! - b.pixels[i]!));
    expect(maxDiff).toBeLessThan(1e-6);
  });

  it('flattens alpha on white and expands greyscale to RGB', async () => {
    const transparent = await sharp({
      create: { width: 20, height: 20, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    const t = await prepareImage(transparent, spec(4), limits);
    expect(channelMeans(t.pixels, 16).map((v) => Number(v.toFixed(4)))).toEqual([1, 1, 1]);
    const grey = await sharp(Buffer.alloc(400, 51), { raw: { width: 20, height: 20, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect((await sharp(grey).metadata()).channels).toBe(1);
    const g = await prepareImage(grey, spec(4), limits);
    expect(g.pixels.length).toBe(48);
    for (const v of channelMeans(g.pixels, 16)) expect(v).toBeCloseTo(0.2, 2);
  });

  it('converts CMYK to sRGB', async () => {
    const cmyk = await sharp(await solid(32, 32, { r: 200, g: 40, b: 40 }))
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const out = await prepareImage(cmyk, spec(4), limits);
    const [r, g, b] = channelMeans(out.pixels, 16);
    expect(r).toBeGreaterThan(0.6);
    expect(g).toBeLessThan(0.35);
    expect(b).toBeLessThan(0.35);
  });

  it('uses the first frame of an animation', async () => {
    const frame = (c: { r: number; g: number; b: number }) =>
      sharp({ create: { width: 24, height: 24, channels: 3, background: c } })
        .png()
        .toBuffer();
    const gif = await sharp([await frame({ r: 255, g: 0, b: 0 }), await frame({ r: 0, g: 0, b: 255 })], {
      join: { animated: true },
    })
      .gif()
      .toBuffer();
    const meta = await sharp(gif).metadata();
    expect(meta.pages).toBe(2);
    const info = await inspectImage(gif, limits);
    expect([info.width, info.height]).toEqual([24, 24]);
    const out = await prepareImage(gif, spec(4), limits);
    const [r, , b] = channelMeans(out.pixels, 16);
    expect(r).toBeGreaterThan(0.9);
    expect(b).toBeLessThan(0.1);
  });
});

describe('perceptual hash (result.image.phash)', () => {
  const SAMPLES = resolve(import.meta.dirname, '../fixtures/samples');
  const PHOTOS = ['ladybird', 'rocket', 'storm', 'yellow-flower'];
  /** The documented rule (docs/API.md, "Near-duplicates"): the same photo when at most this many bits differ. */
  const SAME = 10;
  const model = spec(448);
  const hashOf = async (bytes: Buffer) => (await prepareImage(bytes, model, limits)).phash;

  /** The definition, pixel by pixel: each pixel's luminance into cell floor(x * 32 / w), floor(y * 32 / h). */
  function cellMeans(hwc: Uint8Array, width: number, height: number): Float64Array {
    const sum = new Float64Array(32 * 32);
    const count = new Float64Array(32 * 32);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const k = Math.floor((y * 32) / height) * 32 + Math.floor((x * 32) / width);
        const i = (y * width + x) * 3;
        sum[k]! += 0.299 * hwc[i]! + 0.587 * hwc[i + 1]! + 0.114 * hwc[i + 2]!;
        count[k]! += 1;
      }
    }
    return sum.map((s, k) => s / Math.max(1, count[k]!));
  }

  it('area-averages exactly as defined, whatever the size (the fast path sums runs of columns)', () => {
    for (const [width, height] of [
      [597, 448],
      [448, 597],
      [33, 31],
      [20, 12],
      [1, 1],
    ] as const) {
      const hwc = new Uint8Array(width * height * 3);
      for (let i = 0; i < hwc.length; i++) hwc[i] = (i * 2654435761) >>> 24;
      const want = cellMeans(hwc, width, height);
      const got = cellLuminance(hwc, width, height);
      expect(got).toHaveLength(32 * 32);
      for (let k = 0; k < want.length; k++)
        expect(got[k], `${width}x${height} cell ${k}`).toBeCloseTo(want[k]!, 9);
    }
  });

  it('is 16 lowercase hex digits of the whole image, not only the centre crop the model sees', async () => {
    const left = await halves(300, 100, { r: 250, g: 250, b: 250 }, { r: 10, g: 10, b: 10 });
    const right = await halves(300, 100, { r: 10, g: 10, b: 10 }, { r: 250, g: 250, b: 250 });
    const [a, b] = [await hashOf(left), await hashOf(right)];
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    // The centre crops are nearly alike; the whole images are mirror images, far apart.
    expect(hammingDistance(a, b)).toBeGreaterThan(SAME);
  });

  it('keeps the same photo within the rule when resized, re-encoded or turned by EXIF', async () => {
    for (const name of PHOTOS) {
      const photo = await readFile(join(SAMPLES, `${name}.jpg`));
      const base = await hashOf(photo);
      const copies = [
        await sharp(photo).resize(300).jpeg({ quality: 70 }).toBuffer(),
        await sharp(photo).resize(600).webp({ quality: 50 }).toBuffer(),
        await sharp(photo).resize(2048).png().toBuffer(),
        await sharp(photo).rotate(270).withMetadata({ orientation: 6 }).jpeg({ quality: 80 }).toBuffer(),
      ];
      for (const copy of copies) expect(hammingDistance(base, await hashOf(copy))).toBeLessThanOrEqual(4);
    }
  });

  it('puts different photos beyond the rule', async () => {
    const hashes = await Promise.all(
      PHOTOS.map(async (n) => hashOf(await readFile(join(SAMPLES, `${n}.jpg`)))),
    );
    for (let i = 0; i < hashes.length; i++) {
      for (let j = i + 1; j < hashes.length; j++)
        expect(hammingDistance(hashes[i]!, hashes[j]!)).toBeGreaterThan(SAME + 6);
    }
  });

  it('does not promise that an 85% crop stays within the rule (docs/API.md says so)', async () => {
    // Measured over 61 photos: an 85% centre crop moves the hash by 16 bits (median), a corner crop by 26.
    const photo = await readFile(join(SAMPLES, 'ladybird.jpg'));
    const { width, height } = await sharp(photo).metadata();
    const crop = await sharp(photo)
      .extract({ left: 0, top: 0, width: Math.round(width! * 0.85), height: Math.round(height! * 0.85) })
      .toBuffer();
    expect(hammingDistance(await hashOf(photo), await hashOf(crop))).toBeGreaterThan(SAME);
  });

  it('compares only well-formed hashes', () => {
    expect(hammingDistance('0000000000000000', 'ffffffffffffffff')).toBe(64);
    expect(hammingDistance('8000000000000001', '0000000000000000')).toBe(2);
    expect(() => hammingDistance('abc', '0000000000000000')).toThrow(
      'Expected two 16-digit lowercase hex hashes',
    );
  });
});
