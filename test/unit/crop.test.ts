import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAspect, parseAspects } from '#core/common/aspects.ts';
import { InvalidArgumentError } from '#core/common/errors.ts';
import { type CropBox, candidateBoxes, cropAspects, findCrops, tileBoxes } from '#core/model/crop.ts';
import { extractCrop, resolveLimits } from '#core/model/image.ts';
import { unloadAll } from '#core/model/registry.ts';
import { Scorer } from '#core/model/scorer.ts';
import { halves } from '../helpers/images.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';

const SAMPLES = resolve(import.meta.dirname, '../fixtures/samples');
const limits = resolveLimits();
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mmlq-crop-'));
  // The tiny model scores brightness: the brighter a window, the better (test/helpers/tiny-model.ts).
  await writeTinyModel(root, { name: 'tiny', size: 32 });
  await writeTinyModel(root, { name: 'tiny-fixed', size: 32, graphSize: 32 });
});

afterAll(unloadAll);

function expectInside(crop: CropBox, width: number, height: number) {
  for (const v of [crop.left, crop.top, crop.width, crop.height]) expect(Number.isInteger(v)).toBe(true);
  expect(crop.left).toBeGreaterThanOrEqual(0);
  expect(crop.top).toBeGreaterThanOrEqual(0);
  expect(crop.width).toBeGreaterThan(0);
  expect(crop.height).toBeGreaterThan(0);
  expect(crop.left + crop.width).toBeLessThanOrEqual(width);
  expect(crop.top + crop.height).toBeLessThanOrEqual(height);
}

/** The crop's aspect is the asked one, to within a pixel of rounding. */
function expectAspect(crop: CropBox) {
  const [w, h] = crop.aspect.split(':').map(Number) as [number, number];
  expect(Math.abs(crop.width - (crop.height * w) / h)).toBeLessThanOrEqual(1 + w / h);
}

describe('aspects', () => {
  it('parses W:H of positive integers and normalises spaces', () => {
    expect(parseAspect('16:9')).toEqual({ text: '16:9', width: 16, height: 9 });
    expect(parseAspect(' 4 : 5 ')).toEqual({ text: '4:5', width: 4, height: 5 });
  });

  it('refuses anything else with a typed error that says what was expected', () => {
    for (const bad of ['16x9', '0:1', '1:0', '-1:2', '1.5:1', '', '16:9:1', '100000:1']) {
      expect(() => parseAspect(bad)).toThrow(InvalidArgumentError);
    }
    expect(() => parseAspect('wide')).toThrow(
      'Expected crop aspect as W:H with positive integers up to 10000 (e.g. 16:9, 1:1, 4:5) but received "wide"',
    );
    expect(() => parseAspect(16)).toThrow('but received a value of type number');
  });

  it('reads a comma-separated list, drops repeats and caps the count', () => {
    expect(parseAspects('16:9, 1:1,16:9', 4).map((a) => a.text)).toEqual(['16:9', '1:1']);
    expect(() => cropAspects(['1:1', '2:1', '3:1', '4:1', '5:1'])).toThrow(
      'Expected at most 4 crop aspects but received 5',
    );
  });
});

describe('candidate windows', () => {
  it('are integers inside the image, of the aspect, at several scales and positions', () => {
    for (const [w, h] of [
      [1024, 640],
      [640, 1024],
      [2048, 640],
      [17, 3000],
    ] as const) {
      for (const text of ['16:9', '1:1', '4:5', '3:2', '21:1']) {
        const boxes = candidateBoxes(w, h, parseAspect(text));
        expect(boxes.length).toBeGreaterThan(0);
        for (const b of boxes) expectInside({ aspect: text, score: 0, ...b }, w, h);
        expect(new Set(boxes.map((b) => b.width)).size).toBeGreaterThan(1);
      }
    }
  });

  it('tiles cover the whole image', () => {
    for (const [w, h] of [
      [1024, 640],
      [2048, 640],
      [5000, 100],
    ] as const) {
      const tiles = tileBoxes(w, h);
      expect(tiles.length).toBeLessThanOrEqual(16);
      expect(Math.min(...tiles.map((t) => t.left))).toBe(0);
      expect(Math.max(...tiles.map((t) => t.left + t.width))).toBe(w);
      expect(Math.min(...tiles.map((t) => t.top))).toBe(0);
      expect(Math.max(...tiles.map((t) => t.top + t.height))).toBe(h);
    }
  });
});

describe('findCrops with a model that prefers bright windows', () => {
  it('puts every crop on the bright half, inside the image, at the asked aspect', async () => {
    const scorer = await Scorer.create({ model: 'tiny', modelsDir: root, log: () => {} });
    // The bright half (400x200) holds the largest window of every aspect asked.
    const bytes = await halves(800, 200, DARK, WHITE);
    const crops = await findCrops(scorer.model, bytes, cropAspects('16:9,1:1,4:5,3:2'), limits);
    expect(crops.map((c) => c.aspect)).toEqual(['16:9', '1:1', '4:5', '3:2']);
    for (const c of crops) {
      expectInside(c, 800, 200);
      expectAspect(c);
      expect(c.left).toBeGreaterThanOrEqual(400);
    }
    // A window of pure white scores what the whole-white image scores.
    const white = await scorer.scoreOne({ id: 'w', image: { bytes: await halves(64, 64, WHITE, WHITE) } });
    expect(crops[1]!.score).toBeCloseTo(white.score, 1);
  });

  it('gives boxes in the oriented image: EXIF orientation 6 turns a 600x200 file into a 200x600 image', async () => {
    const scorer = await Scorer.create({ model: 'tiny', modelsDir: root, log: () => {} });
    // Upright: 200 wide, 600 tall, bright on top. Stored turned 90° counter-clockwise with tag 6.
    const top = await sharp({ create: { width: 200, height: 300, channels: 3, background: WHITE } })
      .png()
      .toBuffer();
    const upright = await sharp({ create: { width: 200, height: 600, channels: 3, background: DARK } })
      .composite([{ input: top, left: 0, top: 0 }])
      .png()
      .toBuffer();
    const stored = await sharp(upright).rotate(270).withMetadata({ orientation: 6 }).png().toBuffer();
    const meta = await sharp(stored).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([600, 200, 6]);
    const crops = await findCrops(scorer.model, stored, cropAspects('1:1,4:5'), limits);
    for (const c of crops) {
      expectInside(c, 200, 600);
      expect(c.top + c.height).toBeLessThanOrEqual(300);
    }
    // Cutting the box out of the file (oriented as the boxes are) gives a bright crop.
    const cut = await extractCrop(stored, crops[0]!, limits);
    const stats = await sharp(cut.data).stats();
    expect(stats.channels[0]!.mean).toBeGreaterThan(240);
    expect((await sharp(cut.data).metadata()).width).toBe(crops[0]!.width);
  });

  it('searches a graph of a fixed input size too, at that size', async () => {
    const scorer = await Scorer.create({ model: 'tiny-fixed', modelsDir: root, log: () => {} });
    const bytes = await halves(400, 100, DARK, WHITE);
    const [crop] = await findCrops(scorer.model, bytes, cropAspects('1:1'), limits);
    expectInside(crop!, 400, 100);
    expect(crop!.left).toBeGreaterThanOrEqual(200);
  });

  it('refuses a box outside the image when cutting', async () => {
    const bytes = await halves(100, 50, DARK, WHITE);
    await expect(extractCrop(bytes, { left: 60, top: 0, width: 50, height: 50 }, limits)).rejects.toThrow(
      'Expected a crop box inside the 100x50 image but received 50x50 at (60, 0)',
    );
  });
});

describe('Scorer with crops', () => {
  it('adds crops to the result, and fails only the item with a bad aspect', async () => {
    const scorer = await Scorer.create({ model: 'tiny', modelsDir: root, log: () => {} });
    const bytes = await halves(300, 100, DARK, WHITE);
    const [good, bad, none] = await scorer.scoreMany([
      { id: 'good', image: { bytes }, crops: ['1:1'] },
      { id: 'bad', image: { bytes }, crops: ['1x1'] },
      { id: 'none', image: { bytes } },
    ]);
    expect(good!.ok && good!.result.crops?.[0]).toMatchObject({ aspect: '1:1', width: 100, height: 100 });
    expect(good!.ok && good!.result.timings.cropMs).toBeGreaterThan(0);
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(none!.ok && none!.result.crops).toBeUndefined();
  });
});

const WHITE = { r: 250, g: 250, b: 250 };
const DARK = { r: 10, g: 10, b: 10 };

/** A real photo on one half of a canvas twice its width; the other half flat grey or the photo blurred. */
async function halfCanvas(photo: Buffer, fill: 'grey' | 'blur', side: 'left' | 'right') {
  const { width, height } = await sharp(photo).metadata();
  const other =
    fill === 'grey'
      ? await sharp({ create: { width: width!, height: height!, channels: 3, background: GREY } })
          .png()
          .toBuffer()
      : await sharp(photo).blur(12).toBuffer();
  const canvas = await sharp({
    create: { width: 2 * width!, height: height!, channels: 3, background: GREY },
  })
    .composite([
      { input: photo, left: side === 'left' ? 0 : width!, top: 0 },
      { input: other, left: side === 'left' ? width! : 0, top: 0 },
    ])
    .jpeg({ quality: 92 })
    .toBuffer();
  return { canvas, width: width!, height: height! };
}
const GREY = { r: 128, g: 128, b: 128 };

describe('findCrops with the default model on real photos', () => {
  let scorer: Scorer;
  beforeAll(async () => {
    scorer = await Scorer.create({ log: () => {} });
  });

  const cases = [
    ['rocket', 'grey', 'left'],
    ['storm', 'blur', 'right'],
    ['ladybird', 'grey', 'right'],
    ['rocket', 'blur', 'right'],
  ] as const;
  it.each(cases)(
    '%s beside a %s half (photo on the %s): the crops stay on the photo',
    async (name, fill, side) => {
      const photo = await readFile(join(SAMPLES, `${name}.jpg`));
      const { canvas, width, height } = await halfCanvas(photo, fill, side);
      const crops = await findCrops(scorer.model, canvas, cropAspects('16:9,1:1'), limits);
      for (const c of crops) {
        expectInside(c, 2 * width, height);
        expectAspect(c);
        // At least 80% of the crop's area lies on the photo's half.
        const onPhoto =
          side === 'left'
            ? Math.min(c.left + c.width, width) - c.left
            : c.left + c.width - Math.max(c.left, width);
        expect(onPhoto / c.width).toBeGreaterThanOrEqual(0.8);
      }
    },
    60_000,
  );
});
