import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import { Scorer } from '#core/model/scorer.ts';
const s = await Scorer.create({ batchSize: 1 });
for (const name of ['ladybird','rocket','storm','yellow-flower']) {
  const photo = readFileSync(`test/fixtures/samples/${name}.jpg`);
  const m = await sharp(photo).metadata(); const w = m.width!, h = m.height!;
  for (const other of ['grey','blur']) for (const side of ['left','right']) {
    const fill = other === 'grey' ? await sharp({ create: { width: w, height: h, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer() : await sharp(photo).blur(12).toBuffer();
    const canvas = await sharp({ create: { width: 2*w, height: h, channels: 3, background: '#000' } }).composite([{ input: photo, left: side==='left'?0:w, top: 0 }, { input: fill, left: side==='left'?w:0, top: 0 }]).jpeg({quality:92}).toBuffer();
    const r = await s.scoreOne({ id: 'x', image: { bytes: canvas }, crops: ['16:9','1:1','4:5','3:2'] });
    const verdict = r.crops!.map(c => { const cx = c.left + c.width/2; const inside = side==='left' ? Math.max(0, c.left + c.width - w) : Math.max(0, w - c.left); return `${c.aspect}:${(side==='left'? cx < w : cx > w) ? 'ok' : 'BAD'}(${c.left},${c.top},${c.width}x${c.height} spill ${inside} s${c.score.toFixed(2)})`; });
    console.log(name, other, side, r.score.toFixed(2), verdict.join(' '), r.timings.cropMs);
  }
}
