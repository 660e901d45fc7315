/**
 * Graph variants (manifest `variants`, docs/MODEL_FORMAT.md): `name+variant` serves another graph of the
 * same model (the default model's int8 backbone, for one), with `+variant` in its version so results,
 * keys and tags tell the graphs apart; the plain name never reads the variant's file.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '#core/common/errors.ts';
import { parseManifest, sha256 } from '#core/model/manifest.ts';
import { loadModel, servedManifest, splitModelName, unloadAll } from '#core/model/registry.ts';
import { Scorer } from '#core/model/scorer.ts';
import { distributionStats } from '#core/model/scores.ts';
import { solid } from '../helpers/images.ts';
import { buildGraph, expected, writeTinyModel } from '../helpers/tiny-model.ts';

const ALT_SLOPE = 0.3;
let root: string;
let manifest: Record<string, any>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mmlq-variants-'));
  const alt = buildGraph({ text: true, features: true, slope: ALT_SLOPE });
  const dir = await writeTinyModel(root, {
    name: 'tiny',
    size: 16,
    patch: (m: Record<string, any>) => {
      m['files']['graph-alt'] = { path: 'model.alt.onnx', sha256: sha256(alt) };
      m['variants'] = {
        alt: {
          graph: 'graph-alt',
          description: 'half the slope',
          calibration: {
            reference: 'alt reference',
            points: [
              [1, 0],
              [10, 100],
            ],
          },
        },
      };
      manifest = structuredClone(m);
    },
  });
  await writeFile(join(dir, 'model.alt.onnx'), alt);
});

afterAll(async () => {
  await unloadAll();
  await rm(root, { recursive: true, force: true });
});

const orange = () => solid(64, 48, { r: 255, g: 128, b: 0 });
const meanOf = (channels: [number, number, number], slope?: number) =>
  distributionStats(expected(channels, [], [], slope).distribution, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).mean;

describe('model variants', () => {
  it('splits name+variant', () => {
    expect(splitModelName('mmlq-mnv2-synth')).toEqual(['mmlq-mnv2-synth', undefined]);
    expect(splitModelName('mmlq-mnv2-synth+int8')).toEqual(['mmlq-mnv2-synth', 'int8']);
  });

  it('serves the variant graph with +variant in the version and its own calibration', async () => {
    const plain = await Scorer.create({ model: 'tiny', modelsDir: root });
    const alt = await Scorer.create({ model: 'tiny+alt', modelsDir: root });
    const a = await plain.scoreOne({ id: 'a', image: { bytes: await orange() } });
    const b = await alt.scoreOne({ id: 'b', image: { bytes: await orange() } });
    expect(a.model).toEqual({ name: 'tiny', version: '1.0.0' });
    expect(b.model).toEqual({ name: 'tiny', version: '1.0.0+alt' });
    expect(a.score).toBeCloseTo(meanOf([1, 128 / 255, 0]), 3);
    expect(b.score).toBeCloseTo(meanOf([1, 128 / 255, 0], ALT_SLOPE), 3);
    expect(b.score).toBeLessThan(a.score);
    // the variant's calibration [[1,0],[10,100]] is linear over the whole range
    expect(b.percentile).toBeCloseTo(((b.score - 1) / 9) * 100, 1);
  });

  it('never reads another variant graph: the plain name loads with model.alt.onnx gone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mmlq-variants-gone-'));
    await writeTinyModel(dir, {
      name: 'lean',
      size: 16,
      patch: (m: Record<string, any>) => {
        m['files']['graph-alt'] = { path: 'model.alt.onnx', sha256: '0'.repeat(64) };
        m['variants'] = { alt: { graph: 'graph-alt', description: 'absent' } };
      },
    });
    const options = {
      modelsDir: dir,
      provider: 'cpu',
      intraOpThreads: 1,
      verify: true,
      log: () => {},
    } as const;
    const model = await loadModel('lean', options);
    expect(Object.keys(model.manifest.files).sort()).toEqual(['graph', 'vocab']);
    const error = await loadModel('lean+alt', options).catch((e: unknown) => e);
    expect((error as ModelError).code).toBe('MODEL_LOAD_FAILED');
    expect((error as Error).message).toContain('model.alt.onnx (files.graph)');
    await rm(dir, { recursive: true, force: true });
  });

  it('names the valid variants when one is unknown', () => {
    const parsed = parseManifest(manifest, 'm.json');
    let error: unknown;
    try {
      servedManifest(parsed, 'int4', 'm.json');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).code).toBe('MODEL_NOT_FOUND');
    expect((error as Error).message).toBe(
      'Unknown variant "int4" of model tiny (m.json); valid variants: alt',
    );
  });

  it('rejects a variant whose graph is not a key of files', () => {
    const bad = structuredClone(manifest);
    bad['variants'].alt.graph = 'graph-int8';
    expect(() => parseManifest(bad, 'm.json')).toThrow(
      'Invalid manifest m.json: variants.alt.graph: "graph-int8" is not a key of files',
    );
  });
});
