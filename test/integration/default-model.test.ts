/**
 * The shipped default model through the real core (files → sharp → onnxruntime-node → score), on the
 * sample photos, which were held out of its training. Behaviour, not recorded numbers: every original
 * beats its damaged copy, the attribute that matches the damage is the one that drops, and text moves
 * the score the way its words say.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unloadAll } from '#core/model/registry.ts';
import { type ScoreResult, Scorer } from '#core/model/scorer.ts';

const samples = join(import.meta.dirname, '../fixtures/samples');
const pairs = [
  { photo: 'ladybird', damage: 'blur', attribute: 'sharpness' },
  { photo: 'storm', damage: 'dark', attribute: 'exposure' },
  { photo: 'rocket', damage: 'noise', attribute: 'noise' },
  { photo: 'yellow-flower', damage: 'jpeg', attribute: 'compression' },
] as const;

let scorer: Scorer;
beforeAll(async () => {
  scorer = await Scorer.create();
});
afterAll(unloadAll);

/** The original beats its damaged copy, and the attribute that matches the damage drops more than any other. */
async function expectRankedAndBlamed(by: Scorer, photo: string, damage: string, attribute: string) {
  const one = (file: string) => by.scoreOne({ id: file, image: { path: join(samples, file) } });
  const original = await one(`${photo}.jpg`);
  const damaged = await one(`${photo}-${damage}.jpg`);
  expect(original.score).toBeGreaterThan(damaged.score);
  expect(original.percentile).toBeGreaterThan(damaged.percentile);
  const drop = (label: string) => original.attributes![label]! - damaged.attributes![label]!;
  const labels = Object.keys(original.attributes!);
  expect(labels.reduce((worst, l) => (drop(l) > drop(worst) ? l : worst))).toBe(attribute);
  expect(damaged.distribution.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
}

async function score(file: string, text?: string): Promise<ScoreResult> {
  return scorer.scoreOne({ id: file, image: { path: join(samples, file) }, text });
}

describe('default model mmlq-mnv2-synth on held-out photos', () => {
  it('loads with its manifest: 448 px, 48 tokens, six attributes, calibrated', () => {
    const { manifest } = scorer.model;
    expect(manifest.name).toBe('mmlq-mnv2-synth');
    expect([
      manifest.inputs.image.height,
      manifest.inputs.image.width,
      manifest.inputs.text?.maxTokens,
    ]).toEqual([448, 448, 48]);
    expect(manifest.outputs.attributes?.labels).toEqual([
      'sharpness',
      'exposure',
      'contrast',
      'noise',
      'compression',
      'colour',
    ]);
    expect(manifest.calibration.points.length).toBeGreaterThan(5);
  });

  for (const { photo, damage, attribute } of pairs) {
    it(`ranks ${photo} above its ${damage} copy and blames ${attribute}`, async () => {
      await expectRankedAndBlamed(scorer, photo, damage, attribute);
    });
  }

  it('moves the score up with praise and down with complaints, also in words the templates never used', async () => {
    for (const { photo } of pairs) {
      const none = (await score(`${photo}.jpg`)).score;
      const praise = await score(`${photo}.jpg`, 'Tack sharp, gorgeous light and lovely colours.');
      const complaint = (await score(`${photo}.jpg`, 'Blurry, noisy and far too dark. Disappointing.')).score;
      // none of these words is in the training templates (models/mmlq/mmlq_build/text.py UNSEEN)
      const unseenPraise = (await score(`${photo}.jpg`, 'Splendid, magnificent, breathtaking.')).score;
      const unseenComplaint = (await score(`${photo}.jpg`, 'Dreadful, atrocious, bleary and dingy.')).score;
      expect(praise.mode).toBe('image+text');
      expect(praise.score).toBeGreaterThan(none);
      expect(complaint).toBeLessThan(none);
      expect(unseenPraise).toBeGreaterThan(none);
      expect(unseenComplaint).toBeLessThan(none);
    }
  });

  it('treats empty text as image-only', async () => {
    const none = await score('storm.jpg');
    const blank = await score('storm.jpg', '  \n ');
    expect(blank.mode).toBe('image');
    expect(blank.score).toBe(none.score);
  });
});

// The opt-in graph variants (docs/MODEL_FORMAT.md "Graph variants"; their figures in the model card).
for (const variant of ['int8', 'lowres']) {
  describe(`the ${variant} variant mmlq-mnv2-synth+${variant} (opt-in)`, () => {
    let served: Scorer;
    beforeAll(async () => {
      served = await Scorer.create({ model: `mmlq-mnv2-synth+${variant}` });
    });

    it(`serves its own graph under version +${variant}, beside the fp32 default`, async () => {
      const a = await score('rocket.jpg');
      const b = await served.scoreOne({ id: 'rocket', image: { path: join(samples, 'rocket.jpg') } });
      expect(b.model).toEqual({ name: 'mmlq-mnv2-synth', version: `${a.model.version}+${variant}` });
      expect(served.model.session).not.toBe(scorer.model.session);
      expect(b.score).not.toBe(a.score);
      // the same photo, the same judgement within a fraction of a point
      expect(Math.abs(b.score - a.score)).toBeLessThan(0.5);
    });

    for (const { photo, damage, attribute } of pairs) {
      it(`ranks ${photo} above its ${damage} copy and blames ${attribute}, as fp32 does`, async () => {
        await expectRankedAndBlamed(served, photo, damage, attribute);
      });
    }
  });
}
