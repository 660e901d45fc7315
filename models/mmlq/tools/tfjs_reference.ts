/**
 * tfjs reference for the nsfwjs MobileNetV2-1.4 ("mobilenet_v2_mid") backbone.
 *
 * Loads the graph model exactly as nsfwjs does (requires the browserify-wrapped model.min.js and
 * group1-shard*.min.js, base64-decodes the shards, hands them to tf.loadGraphModel through an
 * in-memory IOHandler, so tfjs itself dequantises the uint8 weights), runs it on the given images
 * and writes the exact input tensor plus intermediate feature maps as raw little-endian float32
 * (NCHW) and an index.json, for models/mmlq/mmlq_build/check_backbone_parity.py.
 *
 * Usage:
 *   npx tsx models/mmlq/tools/tfjs_reference.ts --out DIR [--size 224] [--backend cpu|wasm]
 *       [--package-dir node_modules/nsfwjs] img1.jpg img2.jpg ...
 *
 * Preprocessing: sharp decode -> sRGB, alpha removed -> resize to size x size (fit 'fill', i.e.
 * aspect ratio NOT kept, like nsfwjs which resizes whatever it gets to 224x224) -> float / 255.
 * For --size other than 224 the Placeholder shape is relaxed to [-1,-1,-1,3] (the graph is fully
 * convolutional up to Conv_1); the 5-class head (AvgPool 7x7 VALID) is only evaluated at 224.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..', '..');
const require = createRequire(import.meta.url);

/** short node name (suffix after the Keras/hub wrapper scopes) -> output key */
const TAPS: Record<string, string> = {
  'MobilenetV2/expanded_conv_2/add': 'stride4',
  'MobilenetV2/expanded_conv_5/add': 'stride8',
  'MobilenetV2/expanded_conv_12/add': 'stride16',
  'MobilenetV2/expanded_conv_16/project/BatchNorm/FusedBatchNormV3': 'stride32',
  'MobilenetV2/Conv_1/Relu6': 'final',
};
const HEAD_NODE = 'Identity';

interface Args {
  out: string;
  size: number;
  backend: 'cpu' | 'wasm';
  packageDir: string;
  images: string[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    out: '',
    size: 224,
    backend: 'cpu',
    packageDir: path.join(repoRoot, 'node_modules', 'nsfwjs'),
    images: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`missing value for ${a}`);
      return v;
    };
    if (a === '--out') args.out = next();
    else if (a === '--size') args.size = Number.parseInt(next(), 10);
    else if (a === '--backend') {
      const b = next();
      if (b !== 'cpu' && b !== 'wasm') throw new Error(`unknown backend ${b}`);
      args.backend = b;
    } else if (a === '--package-dir') args.packageDir = path.resolve(next());
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else args.images.push(a);
  }
  if (!args.out || args.images.length === 0) {
    throw new Error('usage: tfjs_reference.ts --out DIR [--size 224] [--backend cpu|wasm] img...');
  }
  if (!Number.isInteger(args.size) || args.size <= 0 || args.size % 32 !== 0) {
    throw new Error(`--size must be a positive multiple of 32, got ${args.size}`);
  }
  return args;
}

interface NsfwjsModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  modelTopology: { node: Array<{ name: string; op: string; attr?: Record<string, unknown> }> };
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
}

function loadDefault<T>(file: string): T {
  const mod = require(file) as T | { default: T };
  return (mod as { default?: T }).default ?? (mod as T);
}

function makeHandler(
  packageDir: string,
  relaxInputShape: boolean,
): { handler: tf.io.IOHandler; nodes: string[] } {
  const dir = path.join(packageDir, 'dist', 'models', 'mobilenet_v2_mid');
  const modelJson = loadDefault<NsfwjsModelJson>(path.join(dir, 'model.min.js'));
  const topology = structuredClone(modelJson.modelTopology);
  if (relaxInputShape) {
    for (const n of topology.node) {
      if (n.op === 'Placeholder') {
        n.attr = {
          ...(n.attr ?? {}),
          shape: { shape: { dim: [-1, -1, -1, 3].map((s) => ({ size: String(s) })) } },
        };
      }
    }
  }
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Buffer[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const p of group.paths) {
      const b64 = loadDefault<string>(path.join(dir, `${p}.min.js`));
      chunks.push(Buffer.from(b64, 'base64'));
    }
    weightSpecs.push(...group.weights);
  }
  const all = Buffer.concat(chunks);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  const artifacts: tf.io.ModelArtifacts = { modelTopology: topology as object, weightSpecs, weightData };
  if (modelJson.format !== undefined) artifacts.format = modelJson.format;
  if (modelJson.generatedBy !== undefined) artifacts.generatedBy = modelJson.generatedBy;
  if (modelJson.convertedBy !== undefined) artifacts.convertedBy = modelJson.convertedBy;
  return { handler: { load: async () => artifacts }, nodes: topology.node.map((n) => n.name) };
}

function shortName(name: string): string {
  const i = name.indexOf('predict/');
  return i >= 0 ? name.slice(i + 'predict/'.length) : name;
}

async function loadImage(file: string, size: number): Promise<Float32Array> {
  const { data, info } = await sharp(file)
    .rotate()
    .toColourspace('srgb')
    .removeAlpha()
    .resize(size, size, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== size || info.height !== size) {
    throw new Error(`${file}: unexpected decode ${info.width}x${info.height}x${info.channels}`);
  }
  const out = new Float32Array(size * size * 3); // NHWC
  for (let i = 0; i < out.length; i++) out[i] = (data[i] ?? 0) / 255;
  return out;
}

function writeF32(file: string, arr: Float32Array): void {
  writeFileSync(file, Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(`${path.join(repoRoot, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist')}/`);
  }
  await tf.setBackend(args.backend);
  await tf.ready();

  const withHead = args.size === 224;
  const { handler, nodes } = makeHandler(args.packageDir, !withHead);
  const model = await tf.loadGraphModel(handler);

  const tapNames: string[] = [];
  const tapKeys: string[] = [];
  for (const [short, key] of Object.entries(TAPS)) {
    const full = nodes.find((n) => shortName(n) === short);
    if (!full) throw new Error(`node ${short} not found in graph`);
    tapNames.push(full);
    tapKeys.push(key);
  }
  if (withHead) {
    tapNames.push(HEAD_NODE);
    tapKeys.push('probs');
  }

  mkdirSync(args.out, { recursive: true });
  const index = {
    model: 'nsfwjs/mobilenet_v2_mid',
    tfjs_version: tf.version.tfjs,
    backend: tf.getBackend(),
    size: args.size,
    layout: 'NCHW float32 little-endian (raw); input is RGB in [0,1] = sharp(fit fill) / 255',
    nodes: Object.fromEntries(tapKeys.map((k, i) => [k, tapNames[i]])),
    images: [] as Array<Record<string, unknown>>,
  };

  for (const [idx, file] of args.images.entries()) {
    const pixels = await loadImage(file, args.size);
    const input = tf.tensor4d(pixels, [1, args.size, args.size, 3]);
    const t0 = performance.now();
    const outs = model.execute({ input }, tapNames) as tf.Tensor[];
    const data = await Promise.all(outs.map((o) => o.data()));
    const ms = performance.now() - t0;
    const stem = `img${idx}`;
    const entry: Record<string, unknown> = { image: path.resolve(file), tfjs_ms: ms };
    const inNchw = tf.transpose(input, [0, 3, 1, 2]);
    writeF32(path.join(args.out, `${stem}.input.f32`), (await inNchw.data()) as Float32Array);
    entry['input'] = { file: `${stem}.input.f32`, shape: inNchw.shape };
    inNchw.dispose();
    const outputs: Record<string, unknown> = {};
    for (const [i, o] of outs.entries()) {
      const key = tapKeys[i] ?? `out${i}`;
      const t = o.rank === 4 ? tf.transpose(o, [0, 3, 1, 2]) : o;
      const arr = (o.rank === 4 ? await t.data() : data[i]) as Float32Array;
      writeF32(path.join(args.out, `${stem}.${key}.f32`), arr);
      outputs[key] = { file: `${stem}.${key}.f32`, shape: t.shape };
      if (t !== o) t.dispose();
      o.dispose();
    }
    entry['outputs'] = outputs;
    index.images.push(entry);
    input.dispose();
    console.log(`${file}: ${ms.toFixed(0)} ms (${index.backend})`);
  }
  writeFileSync(path.join(args.out, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  console.log(`wrote ${args.images.length} image(s) to ${args.out}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
