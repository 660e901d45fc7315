/**
 * Benchmark JPEGs: the real photos the tests use (test/fixtures/samples, 1024 px on the long side) resized
 * to a given number of megapixels at 4:3 and encoded as JPEG quality 90, cached under .cache/bench/images
 * (git-ignored). Upscaled photos are smoother than a camera's, so their files are smaller (0.3-0.8 MB at
 * 12 MP; the noisy copy 2.8 MB) and their entropy decoding a little cheaper than a phone photo's.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';

export const SAMPLES = resolve(import.meta.dirname, '../fixtures/samples');
const CACHE = resolve(import.meta.dirname, '../../.cache/bench/images');

export interface BenchImages {
  megapixels: number;
  width: number;
  height: number;
  paths: string[];
  /** Mean file size in bytes. */
  meanBytes: number;
}

/** Width x height of `megapixels` at 4:3 (12 MP = 4000 x 3000). */
export function sizeOf(megapixels: number): { width: number; height: number } {
  const width = Math.round(Math.sqrt((megapixels * 1e6 * 4) / 3) / 4) * 4;
  return { width, height: (width / 4) * 3 };
}

/** The sample photos at `megapixels`, made once and cached. */
export async function benchImages(megapixels: number): Promise<BenchImages> {
  const { width, height } = sizeOf(megapixels);
  const dir = join(CACHE, `${width}x${height}`);
  await mkdir(dir, { recursive: true });
  const names = (await readdir(SAMPLES)).filter((f) => /\.jpe?g$/i.test(f)).sort();
  const paths: string[] = [];
  let total = 0;
  for (const name of names) {
    const path = join(dir, name);
    const made = await stat(path).catch(() => undefined);
    if (made) {
      total += made.size;
    } else {
      const bytes = await sharp(await readFile(join(SAMPLES, name)))
        .resize({ width, height, fit: 'fill', kernel: 'lanczos3' })
        .jpeg({ quality: 90 })
        .toBuffer();
      await writeFile(path, bytes);
      total += bytes.length;
    }
    paths.push(path);
  }
  return { megapixels, width, height, paths, meanBytes: total / paths.length };
}
