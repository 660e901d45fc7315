import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { Scorer } from '#core/model/scorer.ts';
import { tileBoxes } from '#core/model/crop.ts';
import { decodeImage, resolveLimits, windowPixels } from '#core/model/image.ts';
import { distributionStats } from '#core/model/scores.ts';
const s = await Scorer.create({ batchSize: 1 });
const spec = s.model.manifest.inputs.image as any;
async function tiles(bytes: Buffer) {
  const img = await decodeImage(bytes, resolveLimits(), 800);
  const k = img.width / img.oriented.width;
  const t = tileBoxes(img.oriented.width, img.oriented.height);
  const px = new Float32Array(t.length * 3 * 128 * 128);
  t.forEach((b, i) => px.set(windowPixels(img, { left: Math.floor(b.left*k), top: Math.floor(b.top*k), width: Math.round(b.width*k), height: Math.round(b.height*k) }, 128, 128, spec), i * 3 * 128 * 128));
  const out = await s.model.session.run({ pixel_values: { data: px, dims: [t.length, 3, 128, 128] }, input_ids: { data: new BigInt64Array(t.length * 48), dims: [t.length, 48] }, attention_mask: { data: new BigInt64Array(t.length * 48), dims: [t.length, 48] } }, ['distribution']);
  const sc = t.map((_, i) => distributionStats(Array.from(out['distribution']!.data.subarray(i * 10, i * 10 + 10)), [1,2,3,4,5,6,7,8,9,10]).mean);
  const nx = new Set(t.map(b => b.left)).size;
  const rows: string[] = []; for (let i = 0; i < sc.length; i += nx) rows.push(sc.slice(i, i + nx).map(x => x.toFixed(2)).join(' '));
  return rows.join(' / ');
}
for (const n of ['rocket','storm','ladybird','yellow-flower','storm-dark']) console.log(n, await tiles(readFileSync(`test/fixtures/samples/${n}.jpg`)));
const photo = readFileSync('test/fixtures/samples/rocket.jpg');
const grey = await sharp({ create: { width: 2048, height: 683, channels: 3, background: { r: 128, g: 128, b: 128 } } }).composite([{ input: photo, left: 0, top: 0 }]).jpeg().toBuffer();
console.log('rocket+grey', await tiles(grey));
const blur = await sharp({ create: { width: 2048, height: 683, channels: 3, background: { r: 128, g: 128, b: 128 } } }).composite([{ input: photo, left: 1024, top: 0 }, { input: await sharp(photo).blur(12).toBuffer(), left: 0, top: 0 }]).jpeg().toBuffer();
console.log('blur+rocket', await tiles(blur));
