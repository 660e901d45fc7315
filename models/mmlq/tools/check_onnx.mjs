// Check a servable MMLQ folder with onnxruntime-node: manifest + sha256, torch parity fixtures,
// the word-vocab tokenizer fixture (a JS reference tokenizer), NaN-free image-only mode, latency.
// usage: node models/mmlq/tools/check_onnx.mjs <model folder> [--bench] [--json out.json]
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith('--'));
const bench = args.includes('--bench');
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
if (!dir) {
  console.error('usage: check_onnx.mjs <model folder> [--bench] [--json out.json]');
  process.exit(2);
}
const failures = [];
const report = {};
const fail = (m) => {
  failures.push(m);
  console.error(`FAIL ${m}`);
};

// ---- manifest ----
const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
if (manifest.schemaVersion !== 1) fail('schemaVersion must be 1');
if (manifest.name !== path.basename(path.resolve(dir))) fail(`name ${manifest.name} != folder name`);
for (const [k, f] of Object.entries(manifest.files)) {
  const h = crypto
    .createHash('sha256')
    .update(fs.readFileSync(path.join(dir, f.path)))
    .digest('hex');
  if (h !== f.sha256) fail(`sha256 mismatch for ${k} (${f.path})`);
}
const pts = manifest.calibration.points;
for (let i = 1; i < pts.length; i++) {
  if (!(pts[i][0] > pts[i - 1][0] && pts[i][1] > pts[i - 1][1]))
    fail(`calibration not strictly increasing at ${i}`);
}

// ---- tokenizer (reference JS implementation of docs/MODEL_FORMAT.md word-vocab) ----
const tk = manifest.inputs.text.tokenizer;
const vocabLines = fs.readFileSync(path.join(dir, manifest.files[tk.vocab].path), 'utf8').split('\n');
if (vocabLines.at(-1) === '') vocabLines.pop();
const vocab = new Map(vocabLines.map((w, i) => [w, i]));
const words = (text) => {
  let t = text.normalize('NFKC');
  if (tk.lowercase) t = t.toLowerCase();
  return t.match(/[\p{L}\p{N}]+/gu) ?? [];
};
const T = manifest.inputs.text.maxTokens;
const encode = (text) => {
  const ids = words(text).map((w) => vocab.get(w) ?? tk.unknownId);
  const kept = ids.slice(0, T);
  return {
    ids,
    input_ids: [...kept, ...Array(T - kept.length).fill(tk.padId)],
    attention_mask: [...kept.map(() => 1), ...Array(T - kept.length).fill(0)],
  };
};
const tokFix = JSON.parse(fs.readFileSync(path.join(dir, 'parity', 'tokenizer.json'), 'utf8'));
let tokOk = 0;
for (const c of tokFix.cases) {
  const e = encode(c.text);
  const same =
    JSON.stringify(e.ids) === JSON.stringify(c.ids) &&
    JSON.stringify(e.input_ids) === JSON.stringify(c.input_ids) &&
    JSON.stringify(e.attention_mask) === JSON.stringify(c.attention_mask);
  if (same) tokOk++;
  else
    fail(
      `tokenizer mismatch for ${JSON.stringify(c.text)}: js ${JSON.stringify(words(c.text))} py ${JSON.stringify(c.words)}`,
    );
}
report.tokenizer = `${tokOk}/${tokFix.cases.length} identical`;

// ---- parity ----
const sess = await ort.InferenceSession.create(path.join(dir, manifest.files.graph.path), {
  intraOpNumThreads: 2,
  graphOptimizationLevel: 'all',
});
report.inputs = sess.inputNames;
report.outputs = sess.outputNames;
const readRaw = (spec) => {
  const b = fs.readFileSync(path.join(dir, 'parity', spec.file));
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  const data = spec.dtype === 'float32' ? new Float32Array(ab) : new BigInt64Array(ab);
  return new ort.Tensor(spec.dtype, data, spec.dims);
};
const idx = JSON.parse(fs.readFileSync(path.join(dir, 'parity', 'index.json'), 'utf8'));
report.parity = {};
for (const c of idx.cases) {
  const feeds = Object.fromEntries(Object.entries(c.inputs).map(([k, s]) => [k, readRaw(s)]));
  const o = await sess.run(feeds);
  const maxDiff = (a, b) => Math.max(...a.flat().map((v, i) => Math.abs(v - b[i])));
  const dd = maxDiff(c.expected.distribution, o.distribution.data);
  const da = maxDiff(c.expected.attributes, o.attributes.data);
  const f = o.image_features.data;
  const ef = c.expected.image_features;
  const df = Math.max(...ef.sample_flat_indices.map((j, i) => Math.abs(f[j] - ef.sample_values[i])));
  report.parity[c.name] = { distribution: dd, attributes: da, image_features_samples: df };
  if (!(dd <= idx.tolerance.distribution)) fail(`${c.name}: distribution diff ${dd}`);
  if (!(da <= idx.tolerance.attributes)) fail(`${c.name}: attributes diff ${da}`);
  if (!(df <= idx.tolerance.image_features)) fail(`${c.name}: image_features diff ${df}`);
}

// ---- image-only at 448, NaN check, latency ----
const S = manifest.inputs.image.height;
const mk = (n) => ({
  pixel_values: new ort.Tensor(
    'float32',
    Float32Array.from({ length: n * 3 * S * S }, () => Math.random()),
    [n, 3, S, S],
  ),
  input_ids: new ort.Tensor('int64', new BigInt64Array(n * T), [n, T]),
  attention_mask: new ort.Tensor('int64', new BigInt64Array(n * T), [n, T]),
});
const o1 = await sess.run(mk(1));
if (o1.distribution.data.some(Number.isNaN)) fail('NaN in image-only output');
const sum = o1.distribution.data.reduce((a, b) => a + b, 0);
if (Math.abs(sum - 1) > 1e-4) fail(`distribution sums to ${sum}`);
if (bench) {
  for (const n of [1, 4]) {
    const f = mk(n);
    await sess.run(f);
    const times = [];
    for (let i = 0; i < (n === 1 ? 15 : 5); i++) {
      const t = performance.now();
      await sess.run(f);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    report[`latency_ms_batch${n}_${S}px`] = {
      median: +times[times.length >> 1].toFixed(1),
      per_image: +(times[times.length >> 1] / n).toFixed(1),
    };
  }
}
report.model_onnx_bytes = fs.statSync(path.join(dir, manifest.files.graph.path)).size;
report.failures = failures;
console.log(JSON.stringify(report, null, 2));
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(report, null, 2));
process.exit(failures.length ? 1 : 0);
