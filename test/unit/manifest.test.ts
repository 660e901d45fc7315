import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '#core/common/errors.ts';
import { parseManifest, readManifest, readModelFiles } from '#core/model/manifest.ts';
import { listModels, resolveModelDir } from '#core/model/registry.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';

let root: string;
let valid: Record<string, unknown>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mmlq-manifest-'));
  const dir = await writeTinyModel(root, { name: 'tiny' });
  valid = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
});

function withChange(change: (m: Record<string, any>) => void): unknown {
  const copy = structuredClone(valid) as Record<string, any>;
  change(copy);
  return copy;
}

function problems(json: unknown): string {
  try {
    parseManifest(json, 'm.json');
  } catch (error) {
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).code).toBe('MANIFEST_INVALID');
    return (error as Error).message;
  }
  throw new Error('expected the manifest to be rejected');
}

describe('manifest validation', () => {
  it('accepts the tiny model manifest', () => {
    const m = parseManifest(valid, 'm.json');
    expect(m.name).toBe('tiny');
    expect(m.inputs.text?.maxTokens).toBe(8);
  });

  it('names the path and the expectation of each problem', () => {
    expect(problems(withChange((m) => (m.inputs.image.height = 1.5)))).toBe(
      'Invalid manifest m.json: inputs.image.height: Invalid input: expected int, received number',
    );
    expect(problems(withChange((m) => (m.version = 'one')))).toBe(
      'Invalid manifest m.json: version: a semantic version such as 1.2.3',
    );
    expect(problems(withChange((m) => delete m.files.graph))).toBe(
      'Invalid manifest m.json: files.graph: a "graph" file (the ONNX model) is required',
    );
    expect(problems(withChange((m) => (m.files.graph.path = '../../etc/passwd')))).toBe(
      'Invalid manifest m.json: files.graph.path: a path inside the model folder',
    );
    expect(
      problems(
        withChange(
          (m) =>
            (m.calibration.points = [
              [5, 50],
              [4, 60],
            ]),
        ),
      ),
    ).toBe(
      'Invalid manifest m.json: calibration.points: points must be strictly increasing in score and percentile',
    );
    expect(problems(withChange((m) => (m.outputs.distribution.binValues = [1, 2])))).toBe(
      'Invalid manifest m.json: outputs.distribution: binValues must have one value per bin',
    );
    expect(problems(withChange((m) => (m.inputs.text.tokenizer.vocab = 'words')))).toBe(
      'Invalid manifest m.json: inputs.text.tokenizer.vocab: "words" is not a key of files',
    );
    expect(
      problems(
        withChange((m) => {
          m.inputs.text.tokenizer = { type: 'huggingface', file: 'tokenizer', config: 'tokenizer_config' };
          m.files.tokenizer = m.files.vocab;
        }),
      ),
    ).toBe('Invalid manifest m.json: inputs.text.tokenizer.config: "tokenizer_config" is not a key of files');
    expect(
      problems(withChange((m) => (m.inputs.text.tokenizer = { type: 'sentencepiece', file: 'vocab' }))),
    ).toBe(
      "Invalid manifest m.json: inputs.text.tokenizer.type: Invalid discriminator value. Expected 'word-vocab' | 'huggingface'",
    );
  });

  it('accepts a Hugging Face tokenizer whose files are listed', () => {
    const manifest = parseManifest(
      withChange((m) => {
        m.inputs.text.tokenizer = { type: 'huggingface', file: 'vocab' };
      }),
      'm.json',
    );
    expect(manifest.inputs.text?.tokenizer).toEqual({ type: 'huggingface', file: 'vocab' });
  });

  it('rejects unknown keys (typos) and lists several problems at once', () => {
    const message = problems(
      withChange((m) => {
        m.calibraton = {};
        m.score.direction = 'up';
      }),
    );
    expect(message).toContain(
      'score.direction: Invalid option: expected one of "higher-is-better"|"lower-is-better"',
    );
    expect(message).toContain('(root): Unrecognized key: "calibraton"');
  });

  it('reports invalid JSON and a missing manifest with their paths', async () => {
    const dir = join(root, 'broken');
    await writeTinyModel(root, { name: 'broken' });
    await writeFile(join(dir, 'manifest.json'), '{ nope');
    await expect(readManifest(dir)).rejects.toThrow(
      /^Invalid manifest .*broken\/manifest.json: not valid JSON/,
    );
    await expect(readManifest(join(root, 'absent'))).rejects.toThrow(
      `Expected a model manifest at ${join(root, 'absent', 'manifest.json')} but it cannot be read`,
    );
  });

  it('checks the sha256 of every listed file', async () => {
    const dir = await writeTinyModel(root, { name: 'tampered' });
    const manifest = await readManifest(dir);
    await writeFile(join(dir, 'vocab.txt'), 'changed\n');
    const error = await readModelFiles(dir, manifest).catch((e: unknown) => e);
    expect((error as ModelError).code).toBe('MODEL_FILE_MISMATCH');
    expect((error as Error).message).toMatch(
      new RegExp(
        `^Expected sha256 ${manifest.files['vocab']!.sha256} for .*tampered/vocab.txt \\(files.vocab\\) but received [0-9a-f]{64}$`,
      ),
    );
  });
});

describe('registry', () => {
  it('lists model folders and names the valid ones on a miss', async () => {
    const names = await listModels(root);
    expect(names).toEqual(expect.arrayContaining(['tiny', 'tampered']));
    const error = await resolveModelDir('nima', root).catch((e: unknown) => e);
    expect((error as ModelError).code).toBe('MODEL_NOT_FOUND');
    expect((error as ModelError).status).toBe(404);
    expect((error as Error).message).toBe(
      `Unknown model "nima" in ${root}; valid names: ${names.join(', ')}`,
    );
  });
});
