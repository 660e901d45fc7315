/**
 * The shape of the shipped code, read from its import statements: shared infrastructure never imports
 * a feature, features never import each other, no import cycle between the core's folders, one module
 * each for the native runtimes, and nothing that ships imports dev tooling or a devDependency.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const CORE = join(ROOT, 'layers/core/src');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Infrastructure, from the bottom up: each may import only itself and the folders before it. */
const LAYERS = ['common', 'model', 'clients', 'results'] as const;
/** Features: each may import infrastructure and itself, never another feature. */
const FEATURES = [
  'score-api',
  'api-auth',
  'on-upload',
  'wp-webhook',
  'scorer-service',
  'library-tiers',
  'cli',
] as const;

/** The modules of a folder: TypeScript, and plain ESM (`.mjs`: the inference worker, model/runtime-worker.mjs). */
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? tsFiles(join(dir, e.name))
      : /\.m?[tj]s$/.test(e.name) && !e.name.endsWith('.d.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

interface Import {
  from: string;
  spec: string;
  /** Absolute path of a local target, or undefined for a package. */
  target: string | undefined;
}

function importsOf(file: string): Import[] {
  const src = readFileSync(file, 'utf8');
  // Type-only imports vanish at build time: they are not dependencies of a bundle.
  const specs = [...src.matchAll(/^\s*(?:import|export)\s(?!type\s)[^'"]*?from\s*['"]([^'"]+)['"]/gm)].map(
    (m) => m[1]!,
  );
  specs.push(...[...src.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!));
  return specs.map((spec) => ({
    from: file,
    spec,
    target: spec.startsWith('#core/')
      ? join(CORE, spec.slice(6))
      : spec.startsWith('#tools/')
        ? join(ROOT, 'tools', spec.slice(7))
        : spec.startsWith('.')
          ? resolve(dirname(file), spec)
          : undefined,
  }));
}

const packageOf = (spec: string) =>
  spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
const folderOf = (file: string) => relative(CORE, file).split('/')[0]!;

const shipped = [...tsFiles(CORE), ...tsFiles(join(ROOT, 'functions'))];
const coreImports = tsFiles(CORE).flatMap(importsOf);

describe('architecture of the shipped code', () => {
  it('has every core module in a known folder', () => {
    const folders = new Set(tsFiles(CORE).map(folderOf));
    expect([...folders].sort()).toEqual([...LAYERS, ...FEATURES].sort());
  });

  it('imports only downward: infrastructure never imports a feature or a layer above it', () => {
    const wrong = coreImports
      .filter((i) => i.target?.startsWith(CORE))
      .filter((i) => {
        const from = folderOf(i.from);
        const to = folderOf(i.target!);
        if (from === to) return false;
        const layer = (f: string) => LAYERS.indexOf(f as (typeof LAYERS)[number]);
        if (layer(from) >= 0) return layer(to) < 0 || layer(to) > layer(from);
        return layer(to) < 0; // a feature importing another feature
      })
      .map((i) => `${relative(ROOT, i.from)} -> ${i.spec}`);
    expect(wrong).toEqual([]);
  });

  it('has no import cycle between folders of the core', () => {
    const edges = new Map<string, Set<string>>();
    for (const i of coreImports) {
      if (!i.target?.startsWith(CORE)) continue;
      const [a, b] = [folderOf(i.from), folderOf(i.target)];
      if (a !== b) edges.set(a, (edges.get(a) ?? new Set()).add(b));
    }
    const cycles: string[] = [];
    const visit = (node: string, path: string[]) => {
      if (path.includes(node)) {
        cycles.push([...path.slice(path.indexOf(node)), node].join(' -> '));
        return;
      }
      for (const next of edges.get(node) ?? []) visit(next, [...path, node]);
    };
    for (const node of edges.keys()) visit(node, []);
    expect(cycles).toEqual([]);
  });

  it('imports sharp only in model/image.ts and onnxruntime-node only in model/runtime.ts', () => {
    const users = (name: string) => [
      ...new Set(
        shipped
          .flatMap(importsOf)
          .filter((i) => i.spec === name)
          .map((i) => relative(ROOT, i.from)),
      ),
    ];
    expect(users('sharp')).toEqual(['layers/core/src/model/image.ts']);
    // runtime.ts runs every session in a worker thread (runtime-worker.mjs, plain ESM so a Worker can start
    // it from the sources and beside the bundles): the worker is the one file that loads the package;
    // runtime.ts imports its types only.
    expect(users('onnxruntime-node')).toEqual(['layers/core/src/model/runtime-worker.mjs']);
  });

  it('starts the inference worker only from model/runtime.ts', () => {
    const starters = shipped
      .filter((f) => !f.endsWith('runtime-worker.mjs'))
      .filter((f) => readFileSync(f, 'utf8').includes('runtime-worker.mjs'))
      .map((f) => relative(ROOT, f));
    expect(starters).toEqual(['layers/core/src/model/runtime.ts']);
  });

  it('ships no dev tooling and no devDependency', () => {
    const bad = shipped
      .flatMap(importsOf)
      .filter((i) =>
        i.target === undefined
          ? !i.spec.startsWith('node:') && !(packageOf(i.spec) in pkg.dependencies)
          : !i.target.startsWith(CORE) && !i.target.startsWith(join(ROOT, 'functions')),
      )
      .map((i) => `${relative(ROOT, i.from)} -> ${i.spec}`);
    expect(bad).toEqual([]);
  });
});
