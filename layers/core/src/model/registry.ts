/**
 * Models by name. A models root holds one folder per model (`<root>/<name>/manifest.json`); a name
 * that is not there fails with the list of valid names. Loading is cached per process: the load
 * promise is kept, so concurrent callers share one load, and evicted on failure so a later call retries.
 */
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelError } from '../common/errors.ts';
import { memo } from '../common/memo.ts';
import { type Manifest, readManifest, readModelFiles } from './manifest.ts';
import { ModelSession, PrestartedRuntime, type Provider } from './runtime.ts';
import { HuggingFaceTokenizer, type TextTokenizer, WordTokenizer } from './tokenizer.ts';

/**
 * The package's models/ folder: the nearest ancestor of this module (source or bundle) that holds
 * package.json and models/. Deployed images and layers set MODELS_DIR instead.
 */
export const DEFAULT_MODELS_DIR = findModelsDir(dirname(fileURLToPath(import.meta.url)));

function findModelsDir(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'models'))) return join(dir, 'models');
    if (dirname(dir) === dir) return resolve(start, '../../../models');
  }
}
export const DEFAULT_MODEL = 'mmlq-mnv2-synth';

export interface LoadOptions {
  modelsDir: string;
  provider: Provider;
  /** Fail rather than fall back to cpu when `provider` cannot start (default false). */
  requireProvider?: boolean;
  intraOpThreads: number;
  /** Check every file's sha256 against the manifest (default true). */
  verify: boolean;
  log: (message: string) => void;
}

export interface LoadedModel {
  manifest: Manifest;
  dir: string;
  session: ModelSession;
  tokenizer: TextTokenizer | undefined;
  /** Milliseconds spent reading, verifying and creating the session. */
  loadMs: number;
}

export async function listModels(modelsDir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(modelsDir);
  } catch {
    return [];
  }
  const names: string[] = [];
  for (const entry of entries.sort()) {
    try {
      if ((await stat(join(modelsDir, entry, 'manifest.json'))).isFile()) names.push(entry);
    } catch {
      // not a model folder
    }
  }
  return names;
}

/** `name` or `name+variant` → [name, variant]. */
export function splitModelName(name: string): [string, string | undefined] {
  const plus = name.indexOf('+');
  return plus < 0 ? [name, undefined] : [name.slice(0, plus), name.slice(plus + 1)];
}

export async function resolveModelDir(name: string, modelsDir: string): Promise<string> {
  const names = await listModels(modelsDir);
  if (!names.includes(name)) {
    const valid = names.length ? names.join(', ') : 'none';
    throw new ModelError('MODEL_NOT_FOUND', `Unknown model "${name}" in ${modelsDir}; valid names: ${valid}`);
  }
  return join(modelsDir, name);
}

/**
 * The manifest as served for `variant` (the part of a model name after "+", e.g.
 * `mmlq-mnv2-synth+int8`): its graph in place of files.graph, its calibration when it has one, and
 * `+variant` appended to the version, so every result, key and tag tells the graphs apart. Other
 * variants' graphs are dropped (never read). Without a variant: the default graph alone.
 */
export function servedManifest(manifest: Manifest, variant: string | undefined, source: string): Manifest {
  const variants = manifest.variants ?? {};
  const files = { ...manifest.files };
  for (const v of Object.values(variants)) if (v.graph !== 'graph') delete files[v.graph];
  if (variant === undefined) return { ...manifest, files };
  const chosen = variants[variant];
  if (!chosen) {
    const valid = Object.keys(variants);
    throw new ModelError(
      'MODEL_NOT_FOUND',
      `Unknown variant "${variant}" of model ${manifest.name} (${source}); valid variants: ${valid.length ? valid.join(', ') : 'none'}`,
    );
  }
  return {
    ...manifest,
    version: `${manifest.version}+${variant}`,
    files: { ...files, graph: manifest.files[chosen.graph]! },
    calibration: chosen.calibration ?? manifest.calibration,
  };
}

async function load(name: string, options: LoadOptions): Promise<LoadedModel> {
  const started = performance.now();
  // The inference thread loads onnxruntime while the files below are read and hashed.
  const runtime = new PrestartedRuntime();
  try {
    return await loadWith(runtime, name, options, started);
  } finally {
    await runtime.discard();
  }
}

async function loadWith(
  runtime: PrestartedRuntime,
  name: string,
  options: LoadOptions,
  started: number,
): Promise<LoadedModel> {
  const [base, variant] = splitModelName(name);
  const dir = await resolveModelDir(base, options.modelsDir);
  const read = await readManifest(dir);
  if (read.name !== base) {
    throw new ModelError(
      'MANIFEST_INVALID',
      `Invalid manifest ${join(dir, 'manifest.json')}: name "${read.name}" must equal its folder name "${base}"`,
    );
  }
  const manifest = servedManifest(read, variant, join(dir, 'manifest.json'));
  const files = await readModelFiles(dir, manifest, options.verify);
  const session = await ModelSession.create(
    files.get('graph')!,
    join(dir, manifest.files['graph']!.path),
    options,
    {
      prestarted: runtime,
      // Should the inference worker die, the graph is read (and checked) again rather than kept.
      reload: async () =>
        (
          await readModelFiles(
            dir,
            { ...manifest, files: { graph: manifest.files['graph']! } },
            options.verify,
          )
        ).get('graph')!,
    },
  );
  try {
    const { image, text } = manifest.inputs;
    const { distribution, attributes, imageFeatures } = manifest.outputs;
    session.assertSignature(
      text ? [image.name, text.idsName, text.maskName] : [image.name],
      [
        distribution.name,
        ...(attributes ? [attributes.name] : []),
        ...(imageFeatures ? [imageFeatures.name] : []),
      ],
      dir,
    );
    const tokenizer = text ? makeTokenizer(text, files, dir) : undefined;
    return { manifest, dir, session, tokenizer, loadMs: performance.now() - started };
  } catch (error) {
    // A graph that does not match its manifest: its thread must not outlive the failed load.
    await session.release();
    throw error;
  }
}

function makeTokenizer(
  text: NonNullable<Manifest['inputs']['text']>,
  files: Map<string, Buffer>,
  dir: string,
): TextTokenizer {
  const spec = text.tokenizer;
  if (spec.type === 'word-vocab') {
    return new WordTokenizer(files.get(spec.vocab)!.toString('utf8'), { ...spec, maxTokens: text.maxTokens });
  }
  return new HuggingFaceTokenizer(
    files.get(spec.file)!.toString('utf8'),
    spec.config === undefined ? undefined : files.get(spec.config)!.toString('utf8'),
    text.maxTokens,
    join(dir, 'manifest.json'),
  );
}

const cache = memo((args: { name: string; options: LoadOptions }) => load(args.name, args.options), {
  keyOf: ({ name, options }) =>
    JSON.stringify([
      resolve(options.modelsDir),
      name,
      options.provider,
      options.requireProvider ?? false,
      options.intraOpThreads,
      options.verify,
    ]),
});

/** Loads a model once per process and options; concurrent callers share the same promise. */
export function loadModel(name: string, options: LoadOptions): Promise<LoadedModel> {
  return cache.get({ name, options });
}

/** Releases every cached session (tests, graceful shutdown). */
export async function unloadAll(): Promise<void> {
  const pending = cache.drain();
  for (const p of pending) {
    try {
      await (await p).session.release();
    } catch {
      // failed loads have nothing to release
    }
  }
}
