/**
 * Bundles each function for AWS into dist/functions/<name>/ (ESM, source maps, syntax for the Lambda
 * runtime's Node: LAMBDA_NODE), and the CLI into dist/mmlq-edge.mjs (package.json "bin", syntax for the
 * oldest Node package.json "engines" allows: CLI_NODE). The edge
 * functions (score-api, on-upload, wp-webhook, api-authorizer) must not contain sharp or onnxruntime-node: the build fails if they
 * do. The scorer bundles keep both native packages external; its container image installs them. Each
 * bundle that runs models gets the inference worker (runtime-worker.mjs) copied beside it.
 *   tsx layers/build-functions.ts [--out DIR]     (default dist)
 *
 * Source maps: the edge functions' maps were ~60% of each Lambda zip (e.g. on-upload 856 KB, of which
 * the map 521 KB), so they are written apart, to DIR/sourcemaps/<function>/handler.mjs.map, and not
 * shipped: a Lambda stack trace then gives bundle positions, which those maps translate (keep the maps
 * of each deployed build). The scorer (a container image, size not the issue) keeps its linked map and
 * NODE_OPTIONS=--enable-source-maps; so does the CLI.
 */
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const { out: root = 'dist', edge: extraEdge } = parseArgs({
  // --edge FILE: bundle only FILE, as an edge function (the build's own checks, for tests).
  options: { out: { type: 'string' }, edge: { type: 'string' } },
}).values;

/**
 * The Node of serverless.yml's provider.runtime (nodejs24.x) and of the scorer images' base images
 * (functions/scorer/Dockerfile*): test/unit/dockerfiles.test.ts checks that the three agree. The
 * sources are plain Node 20 code, so the bundles also run under serverless-offline on a Node 20 machine.
 */
const LAMBDA_NODE = 'node24';
/** package.json "engines": the CLI runs on the developer's machine. */
const CLI_NODE = 'node20';

const NATIVE = ['sharp', 'onnxruntime-node'];
/**
 * The inference worker: runtime.ts starts it with new URL('./runtime-worker.mjs', import.meta.url), which
 * esbuild leaves as is, so in a bundle it is looked for next to the bundle. Plain ESM that imports only
 * onnxruntime-node (external like in the bundles): copied as it is beside every bundle holding runtime.ts.
 */
const RUNTIME = 'layers/core/src/model/runtime.ts';
const RUNTIME_WORKER = 'layers/core/src/model/runtime-worker.mjs';
const all: Record<string, { entry: string; edge: boolean; outfile?: string; target?: string }> = {
  'score-api/handler': { entry: 'functions/score-api/handler.ts', edge: true },
  'on-upload/handler': { entry: 'functions/on-upload/handler.ts', edge: true },
  'wp-webhook/handler': { entry: 'functions/wp-webhook/handler.ts', edge: true },
  'api-authorizer/handler': { entry: 'functions/api-authorizer/handler.ts', edge: true },
  'library-tiers/handler': { entry: 'functions/library-tiers/handler.ts', edge: true },
  'scorer/handler': { entry: 'functions/scorer/handler.ts', edge: false },
  'scorer/server': { entry: 'functions/scorer/server.ts', edge: false },
  cli: {
    entry: 'layers/core/src/cli/bin.ts',
    edge: false,
    outfile: `${root}/mmlq-edge.mjs`,
    target: CLI_NODE,
  },
};

/**
 * Inputs of a bundle that must never ship: files under tools/ (the local stack, this script) and files
 * of packages that package-lock.json marks `dev` (devDependencies and what only they pull in).
 */
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
  packages: Record<string, { dev?: boolean }>;
};
function devOnlyInputs(inputs: readonly string[]): string[] {
  return inputs.filter((input) => {
    if (input.startsWith('tools/')) return true;
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    return match !== null && lock.packages[match[1]!]?.dev === true;
  });
}

const entries = extraEdge ? { 'check/handler': { entry: extraEdge, edge: true } } : all;

await rm(`${root}/functions`, { recursive: true, force: true });
await rm(`${root}/sourcemaps`, { recursive: true, force: true });
for (const [
  out,
  { entry, edge, outfile = `${root}/functions/${out}.mjs`, target = LAMBDA_NODE },
] of Object.entries(entries)) {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target,
    format: 'esm',
    // 'external': a map file without the sourceMappingURL comment (moved out of the zip below).
    sourcemap: edge ? 'external' : 'linked',
    metafile: true,
    logLevel: 'warning',
    external: NATIVE,
    // CommonJS dependencies inside an ESM bundle still call require().
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  const leaked = devOnlyInputs(Object.keys(result.metafile.inputs));
  if (leaked.length) {
    throw new Error(
      `${entry} would ship dev-only code (tools/ or a package npm installs only for development):\n  ${leaked.join('\n  ')}`,
    );
  }
  const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
  const native = NATIVE.filter((n) => imports.includes(n));
  if (edge && native.length) {
    throw new Error(`${entry} must not load ${native.join(', ')}: an edge function imports the runtime`);
  }
  const worker = RUNTIME in result.metafile.inputs;
  if (worker) {
    if (edge)
      throw new Error(`${entry} must not load ${RUNTIME}: an edge function starts no inference worker`);
    await copyFile(RUNTIME_WORKER, `${dirname(outfile)}/runtime-worker.mjs`);
  }
  const bytes = Object.entries(result.metafile.outputs)
    .filter(([file]) => !file.endsWith('.map'))
    .reduce((n, [, o]) => n + o.bytes, 0);
  if (edge) {
    const map = `${root}/sourcemaps/${out}.mjs.map`;
    await mkdir(dirname(map), { recursive: true });
    await rename(`${outfile}.map`, map);
  }
  console.log(
    `${outfile}  ${(bytes / 1024).toFixed(0)} KiB${native.length ? `  (external: ${native.join(', ')})` : ''}${worker ? '  + runtime-worker.mjs (loads onnxruntime-node)' : ''}`,
  );
}
