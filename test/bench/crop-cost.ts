/**
 * What a smart crop costs against a plain score: the same images scored with and without `crops`,
 * interleaved, one image at a time (batch 1), median wall time per image of each. test/bench/run.ts can
 * call measureCropCost; on its own:
 *
 *   npx tsx test/bench/crop-cost.ts [--aspects 16:9] [--rounds 5] [--images test/fixtures/samples]
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Scorer } from '#core/model/scorer.ts';

export interface CropCost {
  aspects: string[];
  images: number;
  plainMs: number;
  cropMs: number;
  /** cropMs / plainMs: the target is at most 3. */
  ratio: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Median per-image wall time of scoreOne with and without crops (one warm-up pass first). */
export async function measureCropCost(
  scorer: Scorer,
  images: readonly Buffer[],
  aspects: readonly string[],
  rounds = 5,
): Promise<CropCost> {
  const plain: number[] = [];
  const crop: number[] = [];
  const once = async (bytes: Buffer, crops?: readonly string[]) => {
    const t0 = performance.now();
    await scorer.scoreOne({ id: 'bench', image: { bytes }, crops });
    return performance.now() - t0;
  };
  for (const bytes of images) {
    await once(bytes);
    await once(bytes, aspects);
  }
  for (let r = 0; r < rounds; r++) {
    for (const bytes of images) {
      plain.push(await once(bytes));
      crop.push(await once(bytes, aspects));
    }
  }
  const plainMs = median(plain);
  const cropMs = median(crop);
  return { aspects: [...aspects], images: images.length, plainMs, cropMs, ratio: cropMs / plainMs };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      aspects: { type: 'string', default: '16:9' },
      rounds: { type: 'string', default: '5' },
      images: { type: 'string', default: resolve(import.meta.dirname, '../fixtures/samples') },
    },
  });
  const { Scorer } = await import('#core/model/scorer.ts');
  const scorer = await Scorer.create({ batchSize: 1 });
  const files = (await readdir(values.images)).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort();
  const images = await Promise.all(files.map((f) => readFile(join(values.images, f))));
  for (const aspects of values.aspects.split(';')) {
    const cost = await measureCropCost(scorer, images, aspects.split(','), Number(values.rounds));
    console.log(
      `crops ${cost.aspects.join(',')}: plain ${cost.plainMs.toFixed(1)} ms, with crops ${cost.cropMs.toFixed(1)} ms, ratio ${cost.ratio.toFixed(2)} (${cost.images} images, median)`,
    );
  }
}
