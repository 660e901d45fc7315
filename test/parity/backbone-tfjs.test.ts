/**
 * Converter parity: the MobileNetV2-1.4 inside the shipped ONNX graph (converted from nsfwjs by
 * models/mmlq/mmlq_ref/mobilenet_tfjs.py) against the original tfjs graph model run by tfjs itself
 * (models/mmlq/tools/tfjs_reference.ts, wasm backend), on the same input tensor.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, DEFAULT_MODELS_DIR, loadModel, unloadAll } from '#core/model/registry.ts';

const root = join(import.meta.dirname, '../..');
const images = ['test/fixtures/samples/rocket.jpg', 'test/fixtures/samples/ladybird-blur.jpg'];

afterAll(unloadAll);

async function f32(path: string): Promise<Float32Array> {
  const b = await readFile(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

describe('backbone converter vs tfjs', () => {
  it('the final 1792-channel feature map matches tfjs within 1e-3 at 224x224', async () => {
    const out = await mkdtemp(join(tmpdir(), 'mmlq-tfjs-'));
    await promisify(execFile)(
      join(root, 'node_modules/.bin/tsx'),
      ['models/mmlq/tools/tfjs_reference.ts', '--backend', 'wasm', '--out', out, ...images],
      {
        cwd: root,
      },
    );
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as {
      images: {
        input: { file: string; shape: number[] };
        outputs: Record<string, { file: string; shape: number[] }>;
      }[];
    };
    expect(index.images).toHaveLength(images.length);
    const model = await loadModel(DEFAULT_MODEL, {
      modelsDir: DEFAULT_MODELS_DIR,
      provider: 'cpu',
      intraOpThreads: 0,
      verify: true,
      log: () => {},
    });
    const { image, text } = model.manifest.inputs;
    const features = model.manifest.outputs.imageFeatures!.name;
    for (const entry of index.images) {
      const pixels = await f32(join(out, entry.input.file));
      const expected = await f32(join(out, entry.outputs['final']!.file));
      expect(entry.input.shape).toEqual([1, 3, 224, 224]);
      const feeds = {
        [image.name]: { data: pixels, dims: [1, 3, 224, 224] },
        [text!.idsName]: { data: new BigInt64Array(text!.maxTokens), dims: [1, text!.maxTokens] },
        [text!.maskName]: { data: new BigInt64Array(text!.maxTokens), dims: [1, text!.maxTokens] },
      };
      const result = (await model.session.run(feeds, [features]))[features]!;
      expect([...result.dims]).toEqual(entry.outputs['final']!.shape);
      let max = 0;
      for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(result.data[i]! - expected[i]!));
      expect(max).toBeLessThan(1e-3);
      // the features are not trivially zero: a real comparison happened
      expect(expected.reduce((a, b) => a + Math.abs(b), 0) / expected.length).toBeGreaterThan(0.01);
    }
  });
});
