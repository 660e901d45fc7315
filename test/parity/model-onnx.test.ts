/**
 * Parity of the shipped default model: onnxruntime-node (through our runtime) against the PyTorch
 * reference outputs that models/mmlq/mmlq_build/export.py recorded beside the model (parity/index.json), and the
 * TypeScript tokenizer against the Python one (parity/tokenizer.json).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MODEL,
  DEFAULT_MODELS_DIR,
  type LoadedModel,
  loadModel,
  unloadAll,
} from '#core/model/registry.ts';
import { splitWords, WordTokenizer } from '#core/model/tokenizer.ts';
import { maxAbsDiff, readFeeds, type TensorFile } from '../helpers/parity.ts';

const dir = join(DEFAULT_MODELS_DIR, DEFAULT_MODEL);

interface Case {
  name: string;
  inputs: Record<string, TensorFile>;
  expected: {
    distribution: number[][];
    attributes: number[][];
    image_features: { dims: number[]; sample_flat_indices: number[]; sample_values: number[] };
  };
}
interface Index {
  tolerance: { distribution: number; attributes: number; image_features: number };
  cases: Case[];
}

let model: LoadedModel;
let index: Index;

beforeAll(async () => {
  model = await loadModel(DEFAULT_MODEL, {
    modelsDir: DEFAULT_MODELS_DIR,
    provider: 'cpu',
    intraOpThreads: 0,
    verify: true,
    log: () => {},
  });
  index = JSON.parse(await readFile(join(dir, 'parity', 'index.json'), 'utf8'));
});
afterAll(unloadAll);

describe(`${DEFAULT_MODEL}: onnxruntime-node vs the PyTorch reference`, () => {
  it('has image-only and with-text cases', () => {
    expect(index.cases.map((c) => c.name)).toEqual(expect.arrayContaining(['image_only', 'with_text']));
    expect(index.tolerance.distribution).toBeLessThanOrEqual(1e-4);
  });

  it('matches the distribution and attributes within 1e-4 and the image features within 1e-3', async () => {
    const { distribution, attributes, imageFeatures } = model.manifest.outputs;
    for (const c of index.cases) {
      const feeds = await readFeeds(dir, c.inputs);
      const out = await model.session.run(feeds, [distribution.name, attributes!.name, imageFeatures!.name]);
      const d = maxAbsDiff(out[distribution.name]!.data, c.expected.distribution.flat());
      const a = maxAbsDiff(out[attributes!.name]!.data, c.expected.attributes.flat());
      const f = out[imageFeatures!.name]!;
      expect([...f.dims]).toEqual(c.expected.image_features.dims);
      const sampled = c.expected.image_features.sample_flat_indices.map((i) => f.data[i]!);
      const g = maxAbsDiff(sampled, c.expected.image_features.sample_values);
      expect({ case: c.name, d: d <= 1e-4, a: a <= 1e-4, f: g <= 1e-3 }).toEqual({
        case: c.name,
        d: true,
        a: true,
        f: true,
      });
    }
  });

  it('scores differently with text than without (the text branch is live), run through ONNX here', async () => {
    const { distribution } = model.manifest.outputs;
    const byName = Object.fromEntries(index.cases.map((c) => [c.name, c]));
    const run = async (name: string) => {
      const out = await model.session.run(await readFeeds(dir, byName[name]!.inputs), [distribution.name]);
      const data = [...(out[distribution.name]!.data as Float32Array)];
      return [data.slice(0, 10), data.slice(10, 20)];
    };
    const [none, text] = [await run('image_only'), await run('with_text')];
    // The first image has text in one case and none in the other: the scores differ.
    expect(maxAbsDiff(text[0]!, none[0]!)).toBeGreaterThan(1e-3);
    // The second image has no text in both cases: identical.
    expect(maxAbsDiff(text[1]!, none[1]!)).toBeLessThan(1e-6);
    expect(distribution.bins).toBe(10);
  });
});

describe(`${DEFAULT_MODEL}: TypeScript tokenizer vs the Python one`, () => {
  it('splits and encodes every recorded case identically', async () => {
    const fixture = JSON.parse(await readFile(join(dir, 'parity', 'tokenizer.json'), 'utf8')) as {
      maxTokens: number;
      cases: { text: string; words: string[]; input_ids: number[]; attention_mask: number[] }[];
    };
    const text = model.manifest.inputs.text!;
    expect(fixture.maxTokens).toBe(text.maxTokens);
    const spec = text.tokenizer;
    if (spec.type !== 'word-vocab') throw new Error(`expected a word-vocab tokenizer, got ${spec.type}`);
    const vocab = await readFile(join(dir, model.manifest.files[spec.vocab]!.path), 'utf8');
    const tokenizer = new WordTokenizer(vocab, { ...spec, maxTokens: text.maxTokens });
    expect(fixture.cases.length).toBeGreaterThanOrEqual(20);
    for (const c of fixture.cases) {
      expect(splitWords(c.text, true), c.text).toEqual(c.words);
      const e = tokenizer.encode(c.text);
      expect(Array.from(e.ids, Number), c.text).toEqual(c.input_ids);
      expect(Array.from(e.mask, Number), c.text).toEqual(c.attention_mask);
    }
  });
});
