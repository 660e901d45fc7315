/**
 * Scorer benchmark: model load (cold), per-image latency at batch 1 and throughput at larger batches,
 * split into decode (sharp) and inference (onnxruntime), and peak RSS. Writes docs/BENCHMARKS.md.
 *
 *   npm run bench                          # default model, sample images, cpu
 *   npm run bench -- --model NAME --provider cuda --batches 1,8,32 --rounds 5 --out docs/BENCHMARKS.md
 *   npm run bench -- --models-dir models/.cache/paper --model mmlq-paper-random --text "..." \
 *     --out docs/BENCHMARKS-paper-size.md      # the paper-size export (models/mmlq/README.md)
 */

import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL, DEFAULT_MODELS_DIR, unloadAll } from '#core/model/registry.ts';
import type { Provider } from '#core/model/runtime.ts';
import { Scorer } from '#core/model/scorer.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: process.env['MMLQ_MODEL'] ?? DEFAULT_MODEL },
    'models-dir': { type: 'string', default: process.env['MODELS_DIR'] ?? DEFAULT_MODELS_DIR },
    provider: { type: 'string', default: 'cpu' },
    images: { type: 'string', default: resolve(import.meta.dirname, '../fixtures/samples') },
    batches: { type: 'string', default: '1,4,8' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '0' },
    text: { type: 'string' }, // the same text with every image (multi-modal models); default image-only
    note: { type: 'string' }, // a paragraph for the report (what this model is, how it was made)
    out: { type: 'string', default: resolve(import.meta.dirname, '../../docs/BENCHMARKS.md') },
  },
});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (x: number) => x.toFixed(1);

const files = (await readdir(values.images)).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort();
const bytes = await Promise.all(files.map((f) => readFile(join(values.images, f))));
const rounds = Number(values.rounds);
const batchSizes = values.batches.split(',').map(Number);
const intraOpThreads = Number(values.threads);
let peakRss = process.memoryUsage().rss;
const sample = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

const t0 = performance.now();
const first = await Scorer.create({
  model: values.model,
  modelsDir: values['models-dir'],
  provider: values.provider as Provider,
  intraOpThreads,
  batchSize: 1,
});
const coldLoadMs = performance.now() - t0;
sample();

interface Row {
  batch: number;
  imagesPerSecond: number;
  perImageMs: number;
  decodeMs: number;
  inferenceMs: number;
}
const rows: Row[] = [];
// warm-up: one pass so onnxruntime has allocated its arenas
const text = values.text;
await first.scoreMany(files.map((f, i) => ({ id: f, image: { bytes: bytes[i]! }, text })));
for (const batch of batchSizes) {
  const scorer = await Scorer.create({
    model: values.model,
    modelsDir: values['models-dir'],
    provider: values.provider as Provider,
    intraOpThreads,
    batchSize: batch,
  });
  const walls: number[] = [];
  const decode: number[] = [];
  const infer: number[] = [];
  // enough requests to fill a few batches
  const n = Math.max(files.length, batch * 3);
  const requests = Array.from({ length: n }, (_, i) => ({
    id: String(i),
    image: { bytes: bytes[i % bytes.length]! },
    text,
  }));
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    const outcomes = await scorer.scoreMany(requests);
    walls.push((performance.now() - start) / n);
    for (const o of outcomes) {
      if (!o.ok) throw new Error(`${o.id}: ${o.error.code} ${o.error.message}`);
      decode.push(o.result.timings.decodeMs);
      infer.push(o.result.timings.inferenceMs);
    }
    sample();
  }
  const perImageMs = median(walls);
  rows.push({
    batch,
    imagesPerSecond: 1000 / perImageMs,
    perImageMs,
    decodeMs: median(decode),
    inferenceMs: median(infer),
  });
  console.error(
    `batch ${batch}: ${fmt(perImageMs)} ms/image wall, decode ${fmt(median(decode))} ms, inference ${fmt(median(infer))} ms`,
  );
}
await unloadAll();

const info = first.modelInfo;
const report = `# Benchmarks${info.name === DEFAULT_MODEL ? '' : `: ${info.name}`}
${values.note ? `\n${values.note}\n` : ''}
Written by \`npm run bench\` (test/bench/run.ts) on ${new Date().toISOString().slice(0, 10)}. Numbers are medians over
${rounds} rounds after one warm-up pass; the images are the ${files.length} files in
\`${values.images.replace(resolve(import.meta.dirname, '../..') + '/', '')}\` (${files.join(', ')}),
decoded from JPEG at full size every time.

| setting | value |
|---|---|
| model | ${info.name}@${info.version} |
| execution provider | ${info.provider} |
| onnxruntime-node | ${(createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version} |
| machine | ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version} |
| intra-op threads | ${intraOpThreads || 'onnxruntime default (one per core)'} |
| text with each image | ${text === undefined ? 'none (image-only)' : `"${text}"`} |
| cold model load (read + sha256 + session) | ${fmt(coldLoadMs)} ms |
| peak RSS | ${(peakRss / 2 ** 20).toFixed(0)} MiB |

| batch | images/s | wall ms/image | decode latency ms | inference ms/image |
|---:|---:|---:|---:|---:|
${rows.map((r) => `| ${r.batch} | ${fmt(r.imagesPerSecond)} | ${fmt(r.perImageMs)} | ${fmt(r.decodeMs)} | ${fmt(r.inferenceMs)} |`).join('\n')}

Decode (sharp: read header, decode with shrink-on-load, orient, resize, crop, normalise) of the next
batch overlaps inference of the current one, so wall time per image can be below decode + inference.
Decode latency is from the start of a batch's decoding to that image being ready: the images of a
batch are decoded concurrently and share the cores with onnxruntime, so it grows with the batch size
while throughput does not fall. Inference per image is the batch's onnxruntime time divided by its
size. Peak RSS is the whole benchmark process (several scorers, onnxruntime's arenas for the largest
batch), an upper bound for one scorer at that batch size.
`;
await writeFile(values.out, report);
console.error(`wrote ${values.out}`);
