// Run the frozen cache encoder (ONNX) over <dir>/views.u8 (N x 448 x 448 x 3 uint8) with
// onnxruntime-node; writes <dir>/feats.f32 (N x F float32, the flattened token groups).
// usage: node models/mmlq/tools/extract_features.mjs <cache_encoder.onnx> <dir> [batch]
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

const [modelPath, dir, batchArg] = process.argv.slice(2);
if (!modelPath || !dir) {
  console.error('usage: extract_features.mjs <model.onnx> <dir> [batch]');
  process.exit(2);
}
const S = 448;
const B = Number(batchArg ?? 8);
const per = S * S * 3;
const file = path.join(dir, 'views.u8');
const n = fs.statSync(file).size / per;
if (!Number.isInteger(n)) throw new Error(`${file}: size is not a multiple of ${per}`);
const sess = await ort.InferenceSession.create(modelPath, {
  intraOpNumThreads: 2,
  graphOptimizationLevel: 'all',
});
const fd = fs.openSync(file, 'r');
// resumable: a killed run leaves feats.f32.part (+ .json with the feature width); whole batches are kept
const partFile = path.join(dir, 'feats.f32.part');
const partMeta = `${partFile}.json`;
let start = 0;
if (fs.existsSync(partFile) && fs.existsSync(partMeta)) {
  const { F, batch, views } = JSON.parse(fs.readFileSync(partMeta, 'utf8'));
  if (batch === B && views === n) {
    start = Math.floor(fs.statSync(partFile).size / (F * 4) / B) * B;
    fs.truncateSync(partFile, start * F * 4);
    console.log(`resuming at view ${start}/${n}`);
  }
}
const out = fs.openSync(partFile, start > 0 ? 'a' : 'w');
const buf = Buffer.alloc(per * B);
const t0 = performance.now();
for (let i = start; i < n; i += B) {
  const b = Math.min(B, n - i);
  fs.readSync(fd, buf, 0, per * b, per * i);
  const x = new Float32Array(b * 3 * S * S);
  for (let k = 0; k < b; k++) {
    const src = k * per;
    const dst = k * 3 * S * S;
    for (let p = 0; p < S * S; p++) {
      x[dst + p] = buf[src + 3 * p] / 255;
      x[dst + S * S + p] = buf[src + 3 * p + 1] / 255;
      x[dst + 2 * S * S + p] = buf[src + 3 * p + 2] / 255;
    }
  }
  const r = await sess.run({ pixel_values: new ort.Tensor('float32', x, [b, 3, S, S]) });
  const f = r.feats.data;
  if (i === start && start === 0) {
    fs.writeFileSync(partMeta, JSON.stringify({ F: f.length / b, batch: B, views: n }));
  }
  fs.writeSync(out, Buffer.from(f.buffer, f.byteOffset, f.byteLength));
  if ((i / B) % 50 === 0) {
    const el = (performance.now() - t0) / 1000;
    console.log(
      `${i + b}/${n} views, ${el.toFixed(0)} s, ${((el * 1000) / (i + b - start)).toFixed(1)} ms/view`,
    );
  }
}
fs.closeSync(out);
fs.renameSync(partFile, path.join(dir, 'feats.f32'));
fs.rmSync(partMeta, { force: true });
console.log(`done: ${n} views in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
