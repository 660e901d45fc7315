/**
 * Builds small, analytically known ONNX models + manifests for unit tests (no trained weights).
 *
 * Graph: channel means m[N,3] of pixel_values → logits = m·W + b (+ text term) → softmax = distribution;
 * attributes = sigmoid(m·A + c); image_features = m. The text term is Σ_t E[ids_t]·mask_t times a row
 * vector, so known "good" words raise the high bins. `expected()` recomputes the outputs in JS.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { onnx as OnnxTypes } from 'onnx-proto';
import onnxProto from 'onnx-proto';
import { sha256 } from '#core/model/manifest.ts';

export const VOCAB = ['<pad>', '<unk>', 'sharp', 'lovely', 'blurry', 'dark', 'café', 'x2'];
/** Word weights: positive words push the score up, negative down. */
export const WORD_WEIGHTS = [0, 0, 1, 1, -1, -1, 0.5, 0];

const BINS = 10;
/** logit_k = (k - 4.5) * SLOPE * (m_r + m_g + m_b) + BIAS_k */
const SLOPE = 0.6;
const TEXT_SLOPE = 0.4;
const ATTR = [
  [1, 0],
  [1, 0],
  [1, 0],
];

const { onnx } = onnxProto;
const F = onnx.TensorProto.DataType.FLOAT;
const I64 = onnx.TensorProto.DataType.INT64;

function tensor(name: string, dims: number[], values: number[]): OnnxTypes.ITensorProto {
  return { name, dims, dataType: F, rawData: new Uint8Array(new Float32Array(values).buffer) };
}

function int64s(name: string, values: number[]): OnnxTypes.ITensorProto {
  return {
    name,
    dims: [values.length],
    dataType: I64,
    rawData: new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer),
  };
}

function value(name: string, elemType: number, dims: (number | string)[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function node(
  opType: string,
  input: string[],
  output: string[],
  attribute: OnnxTypes.IAttributeProto[] = [],
): OnnxTypes.INodeProto {
  return { opType, input, output, attribute, name: output[0]! };
}

export function buildGraph(options: {
  text: boolean;
  features?: boolean;
  fixedSize?: number;
  /** The image term's slope (default SLOPE): another value makes a different graph, e.g. a variant. */
  slope?: number;
}): Uint8Array {
  const slope = options.slope ?? SLOPE;
  const W: number[] = [];
  for (let c = 0; c < 3; c++) for (let k = 0; k < BINS; k++) W.push((k - 4.5) * slope);
  const nodes: OnnxTypes.INodeProto[] = [
    node(
      'ReduceMean',
      ['pixel_values'],
      ['m'],
      [
        { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [2, 3] },
        { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
      ],
    ),
    node('Gemm', ['m', 'W', 'b'], [options.text ? 'img_logits' : 'logits']),
    node('Gemm', ['m', 'A', 'c'], ['attr_logits']),
    node('Sigmoid', ['attr_logits'], ['attributes']),
  ];
  const initializer = [
    tensor('W', [3, BINS], W),
    tensor('b', [BINS], new Array(BINS).fill(0)),
    tensor('A', [3, 2], ATTR.flat()),
    tensor('c', [2], [0, -1]),
  ];
  const hw = options.fixedSize ?? 0;
  const inputs = [value('pixel_values', F, ['N', 3, hw || 'H', hw || 'W'])];
  if (options.text) {
    inputs.push(value('input_ids', I64, ['N', 'T']), value('attention_mask', I64, ['N', 'T']));
    initializer.push(
      tensor('E', [VOCAB.length], WORD_WEIGHTS),
      tensor(
        'Wt',
        [1, BINS],
        Array.from({ length: BINS }, (_, k) => (k - 4.5) * TEXT_SLOPE),
      ),
      int64s('axis1', [1]),
    );
    nodes.push(
      node('Gather', ['E', 'input_ids'], ['word_w']),
      node(
        'Cast',
        ['attention_mask'],
        ['mask_f'],
        [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: F }],
      ),
      node('Mul', ['word_w', 'mask_f'], ['masked_w']),
      node(
        'ReduceSum',
        ['masked_w', 'axis1'],
        ['text_sum'],
        [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
      ),
      node('MatMul', ['text_sum', 'Wt'], ['text_logits']),
      node('Add', ['img_logits', 'text_logits'], ['logits']),
    );
  }
  nodes.push(
    node(
      'Softmax',
      ['logits'],
      ['distribution'],
      [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
    ),
  );
  const outputs = [value('distribution', F, ['N', BINS]), value('attributes', F, ['N', 2])];
  if (options.features) {
    nodes.push(node('Identity', ['m'], ['image_features']));
    outputs.push(value('image_features', F, ['N', 3]));
  }
  const model: OnnxTypes.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'mmlq-edge tests',
    graph: { name: 'tiny', node: nodes, initializer, input: inputs, output: outputs },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** What the tiny graph computes, for golden-value assertions. */
export function expected(
  channelMeans: [number, number, number],
  ids: number[] = [],
  mask: number[] = [],
  slope = SLOPE,
): { distribution: number[]; attributes: number[] } {
  const s = channelMeans[0] + channelMeans[1] + channelMeans[2];
  const textSum = ids.reduce((acc, id, i) => acc + WORD_WEIGHTS[id]! * (mask[i] ?? 0), 0);
  const logits = Array.from(
    { length: BINS },
    (_, k) => (k - 4.5) * slope * s + (k - 4.5) * TEXT_SLOPE * textSum,
  );
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const total = exps.reduce((a, b) => a + b, 0);
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  return { distribution: exps.map((e) => e / total), attributes: [sig(s), sig(-1)] };
}

export interface TinyModelOptions {
  name?: string;
  text?: boolean;
  size?: number;
  maxTokens?: number;
  /** Declare pixel_values with this fixed height/width in the graph (to provoke a run-time mismatch). */
  graphSize?: number;
  /** Replace the graph with these bytes (its sha256 is still recorded correctly). */
  graphBytes?: Uint8Array;
  /** Overrides merged into the manifest (after sha256s are computed). */
  patch?: (manifest: Record<string, unknown>) => void;
}

/** Writes models/<name>/ (manifest.json, model.onnx, vocab.txt) under `root`; returns the folder. */
export async function writeTinyModel(root: string, options: TinyModelOptions = {}): Promise<string> {
  const name = options.name ?? 'tiny';
  const text = options.text ?? true;
  const size = options.size ?? 32;
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  const graph =
    options.graphBytes ??
    buildGraph({ text, features: true, ...(options.graphSize ? { fixedSize: options.graphSize } : {}) });
  const vocab = `${VOCAB.join('\n')}\n`;
  await writeFile(join(dir, 'model.onnx'), graph);
  await writeFile(join(dir, 'vocab.txt'), vocab);
  const manifest: Record<string, unknown> = {
    schemaVersion: 1,
    name,
    version: '1.0.0',
    description: 'tiny analytic test model (channel means)',
    license: { spdx: 'MIT' },
    files: {
      graph: { path: 'model.onnx', sha256: sha256(graph) },
      ...(text ? { vocab: { path: 'vocab.txt', sha256: sha256(Buffer.from(vocab)) } } : {}),
    },
    inputs: {
      image: {
        name: 'pixel_values',
        height: size,
        width: size,
        resize: { mode: 'shortest-edge', size },
        crop: 'center',
        rescale: 1 / 255,
        mean: [0, 0, 0],
        std: [1, 1, 1],
      },
      ...(text
        ? {
            text: {
              idsName: 'input_ids',
              maskName: 'attention_mask',
              maxTokens: options.maxTokens ?? 8,
              tokenizer: { type: 'word-vocab', vocab: 'vocab', lowercase: true, padId: 0, unknownId: 1 },
            },
          }
        : {}),
    },
    outputs: {
      distribution: { name: 'distribution', bins: BINS, binValues: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
      attributes: { name: 'attributes', labels: ['brightness', 'constant'] },
      imageFeatures: { name: 'image_features' },
    },
    score: { min: 1, max: 10, direction: 'higher-is-better' },
    calibration: {
      reference: 'synthetic: uniform grey levels',
      points: [
        [1, 0],
        [5.5, 50],
        [10, 100],
      ],
    },
  };
  options.patch?.(manifest);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}
