/**
 * The paper-size MMLQ export path (models/mmlq/mmlq_build/export_paper.py: a CLIP-style ViT + BERT + the MMLQ
 * head in one graph, a Hugging Face tokenizer.json) at test size, with random weights:
 * test/fixtures/models/mmlq-paper-tiny. The smoke build re-exports it and checks it is byte-identical,
 * so the fixture cannot drift from the exporter. Here: onnxruntime-node against the PyTorch reference
 * outputs recorded beside it, @huggingface/tokenizers against the Python WordPiece used for those
 * outputs, and a score through the core. The weights are random: no assertion is about aesthetics.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoadedModel, loadModel, unloadAll } from '#core/model/registry.ts';
import { Scorer } from '#core/model/scorer.ts';
import { maxAbsDiff, readFeeds, type TensorFile } from '../helpers/parity.ts';

const MODELS = resolve(import.meta.dirname, '../fixtures/models');
const NAME = 'mmlq-paper-tiny';
const dir = join(MODELS, NAME);

interface Index {
  tolerance: { distribution: number };
  cases: {
    name: string;
    texts: (string | null)[];
    inputs: Record<string, TensorFile>;
    expected: { distribution: number[][]; mean_score: number[] };
  }[];
}
interface TokenizerCases {
  maxTokens: number;
  cases: { text: string; imageOnly: boolean; input_ids: number[]; attention_mask: number[] }[];
}

let model: LoadedModel;
let index: Index;

beforeAll(async () => {
  model = await loadModel(NAME, {
    modelsDir: MODELS,
    provider: 'cpu',
    intraOpThreads: 0,
    verify: true,
    log: () => {},
  });
  index = JSON.parse(await readFile(join(dir, 'parity', 'index.json'), 'utf8'));
});
afterAll(unloadAll);

describe(`${NAME}: a servable paper-architecture folder (random weights)`, () => {
  it('declares pixels + token ids in, one distribution out, and a Hugging Face tokenizer', () => {
    const { inputs, outputs, description } = model.manifest;
    expect(inputs.text?.tokenizer).toEqual({
      type: 'huggingface',
      file: 'tokenizer',
      config: 'tokenizer_config',
    });
    expect(outputs.attributes).toBeUndefined();
    expect(description).toContain('RANDOM');
    expect(model.session.inputNames).toEqual(['pixel_values', 'input_ids', 'attention_mask']);
  });

  it('onnxruntime-node matches the PyTorch reference within 1e-4 (image-only and with text)', async () => {
    expect(index.cases.map((c) => c.name)).toEqual(['image_only', 'with_text', 'with_text_both']);
    expect(index.tolerance.distribution).toBeLessThanOrEqual(1e-4);
    const out = model.manifest.outputs.distribution.name;
    for (const c of index.cases) {
      const result = await model.session.run(await readFeeds(dir, c.inputs), [out]);
      const diff = maxAbsDiff(result[out]!.data, c.expected.distribution.flat());
      expect(diff, c.name).toBeLessThanOrEqual(index.tolerance.distribution);
    }
    // The text branch is live, and a row without text does not see the other row's text.
    const [none, withText] = [index.cases[0]!, index.cases[1]!];
    expect(maxAbsDiff(withText.expected.distribution[0]!, none.expected.distribution[0]!)).toBeGreaterThan(
      1e-4,
    );
    expect(maxAbsDiff(withText.expected.distribution[1]!, none.expected.distribution[1]!)).toBeLessThan(1e-6);
  });

  it('tokenizes every recorded case exactly as the Python WordPiece did', async () => {
    const fixture = JSON.parse(
      await readFile(join(dir, 'parity', 'tokenizer_cases.json'), 'utf8'),
    ) as TokenizerCases;
    expect(fixture.maxTokens).toBe(model.manifest.inputs.text!.maxTokens);
    expect(fixture.cases.length).toBeGreaterThanOrEqual(20);
    expect(fixture.cases.some((c) => c.imageOnly)).toBe(true);
    expect(fixture.cases.some((c) => c.input_ids.every((id) => id !== 0))).toBe(true); // a truncated one
    for (const c of fixture.cases) {
      const e = model.tokenizer!.encode(c.text);
      expect({ text: c.text, ids: Array.from(e.ids, Number), mask: Array.from(e.mask, Number) }).toEqual({
        text: c.text,
        ids: c.input_ids,
        mask: c.attention_mask,
      });
    }
  });

  it('scores an image through the core, image-only and with text', async () => {
    const scorer = await Scorer.create({ model: NAME, modelsDir: MODELS, log: () => {} });
    const bytes = await readFile(resolve(import.meta.dirname, '../fixtures/samples/rocket.jpg'));
    const imageOnly = await scorer.scoreOne({ id: 'a', image: { bytes } });
    const withText = await scorer.scoreOne({ id: 'b', image: { bytes }, text: ['A crisp, lovely photo.'] });
    expect([imageOnly.mode, withText.mode]).toEqual(['image', 'image+text']);
    for (const r of [imageOnly, withText]) {
      expect(r.distribution.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
      expect(r.score).toBeGreaterThan(1);
      expect(r.score).toBeLessThan(10);
      expect(r.attributes).toBeUndefined();
    }
    expect(withText.score).not.toBe(imageOnly.score);
    expect(scorer.modelInfo).toMatchObject({ name: NAME, multimodal: true });
  });
});
