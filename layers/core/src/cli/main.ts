/**
 * mmlq-edge CLI.
 *
 *   mmlq-edge score <files|folders|globs...> [--top N] [--distinct] [--json|--csv] [--text-map map.json]
 *                   [--crop 16:9,1:1 [--crop-out DIR]]
 *   mmlq-edge models
 *   mmlq-edge wordpress backfill --site URL --user U --app-password-file F [--unscored|--all]
 *   mmlq-edge bucket backfill|status|cancel ...   (cli/bucket.ts: whole buckets, S3 Batch Operations)
 *
 * Exit codes: 0 every image scored; 1 at least one image failed (the others are still reported);
 * 2 usage or model errors (nothing scored).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError as CommanderArgError, CommanderError } from 'commander';
import type { Aspect } from '../common/aspects.ts';
import { isMmlqError } from '../common/errors.ts';
import { cropAspects } from '../model/crop.ts';
import { extractCrop, resolveLimits } from '../model/image.ts';
import { readManifest } from '../model/manifest.ts';
import { DEFAULT_MODELS_DIR, listModels } from '../model/registry.ts';
import type { ScoreOutcome, ScoreRequest } from '../model/scorer.ts';
import { parseThresholds } from '../model/scores.ts';
import { bucketCommand } from './bucket.ts';
import { expandInputs, readTextMap, type TextMap, textFor, unusedTextMapKeys } from './inputs.ts';
import type { Io } from './io.ts';
import { addModelOptions, createScorer, intArg, type ModelFlags } from './model-flags.ts';
import { buildReport, formatCsv, formatJson, formatTable, type Report } from './output.ts';
import { type BackfillFlags, backfill } from './wordpress.ts';

export type { Io } from './io.ts';

/**
 * The directory the user typed the command in. `npm run score` runs the CLI in the package root
 * (npm_package_json's folder) and sets INIT_CWD to where npm was run, so paths resolve there. Anywhere
 * else (the CLI run directly, or by a process that merely inherited npm's variables) the cwd is kept.
 */
export function callerCwd(env: NodeJS.ProcessEnv, cwd: string): string {
  const pkg = env['npm_package_json'];
  return env['INIT_CWD'] && pkg && resolve(dirname(pkg)) === resolve(cwd) ? env['INIT_CWD'] : cwd;
}

function rateArg(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1000)
    throw new CommanderArgError(
      `Expected a number of requests per second in (0, 1000] for --rate but received ${value}`,
    );
  return n;
}

function countArg(name: string, max = Number.MAX_SAFE_INTEGER, min = 1) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new CommanderArgError(
        `Expected an integer from ${min} to ${max} for ${name} but received ${value}`,
      );
    return n;
  };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

interface ScoreFlags extends ModelFlags {
  top?: number;
  distinct?: boolean;
  json?: boolean;
  csv?: boolean;
  output?: string;
  textMap?: string;
  sidecar: boolean;
  progress: boolean;
  crop?: Aspect[];
  cropOut?: string;
}

function aspectsArg(value: string): Aspect[] {
  try {
    return cropAspects(value);
  } catch (error) {
    throw new CommanderArgError((error as Error).message);
  }
}

/**
 * Writes each ranked image's crops under `dir`, mirroring its path relative to the working folder (a file
 * outside it goes to the top): `photos/a.jpg` → `<dir>/photos/a.16x9.jpg`. Returns the number written.
 */
async function writeCrops(report: Report, files: Map<string, string>, dir: string, io: Io): Promise<number> {
  let written = 0;
  for (const r of report.ranked) {
    const file = files.get(r.file);
    if (!file || !r.result.crops?.length) continue;
    const rel = relative(io.cwd, file);
    const place = rel.startsWith('..') || isAbsolute(rel) ? basename(file) : rel;
    const stem = basename(place, extname(place));
    const bytes = await readFile(file);
    for (const crop of r.result.crops) {
      const cut = await extractCrop(bytes, crop, resolveLimits());
      const out = join(dir, dirname(place), `${stem}.${crop.aspect.replace(':', 'x')}.${cut.extension}`);
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, cut.data);
      written++;
    }
  }
  return written;
}

async function score(inputs: string[], flags: ScoreFlags, io: Io): Promise<number> {
  if (flags.json && flags.csv) {
    io.stderr('error: choose one of --json or --csv\n');
    return 2;
  }
  if (flags.cropOut && !flags.crop?.length) {
    io.stderr('error: --crop-out needs --crop (the aspects to cut, e.g. --crop 16:9,1:1)\n');
    return 2;
  }
  const tiers = flags.tiers ? parseThresholds(flags.tiers) : undefined;
  const textMap: TextMap | undefined = flags.textMap
    ? await readTextMap(resolve(io.cwd, flags.textMap))
    : undefined;
  const { files, unmatched } = await expandInputs(inputs, io.cwd);
  for (const arg of unmatched) io.stderr(`warning: ${arg} matched no image files\n`);
  if (files.length === 0) {
    io.stderr('error: no image files to score\n');
    return 2;
  }
  const unusedKeys = textMap ? unusedTextMapKeys(textMap, files, io.cwd) : [];
  if (unusedKeys.length)
    io.stderr(`warning: --text-map keys that match no image: ${unusedKeys.join(', ')}\n`);
  const started = performance.now();
  const scorer = await createScorer(flags, tiers, io);
  const requests: ScoreRequest[] = await Promise.all(
    files.map(async (file) => ({
      id: relative(io.cwd, file) || file,
      image: { path: file },
      text: scorer.modelInfo.multimodal ? await textFor(file, textMap, flags.sidecar, io.cwd) : undefined,
      crops: flags.crop?.map((a) => a.text),
    })),
  );
  const bar =
    flags.progress && io.interactive && files.length > 1
      ? new SingleBar({
          format: 'scoring [{bar}] {value}/{total} {eta_formatted} left  {last}',
          stream: process.stderr,
          hideCursor: true,
        })
      : undefined;
  bar?.start(files.length, 0, { last: '' });
  const outcomes: ScoreOutcome[] = await scorer.scoreMany(requests, (done, outcome) =>
    bar?.update(done, { last: outcome.id }),
  );
  bar?.stop();
  const info = scorer.modelInfo;
  const report = buildReport(
    outcomes,
    { name: info.name, version: info.version, provider: info.provider },
    performance.now() - started,
    flags.top,
    flags.distinct === true,
  );
  if (flags.cropOut) {
    const byId = new Map(requests.map((r, i) => [r.id, files[i]!]));
    const written = await writeCrops(report, byId, resolve(io.cwd, flags.cropOut), io);
    io.stderr(`wrote ${written} crops to ${flags.cropOut}\n`);
  }
  const text = flags.json ? formatJson(report) : flags.csv ? formatCsv(report) : formatTable(report);
  if (flags.output) {
    await writeFile(resolve(io.cwd, flags.output), text);
    io.stderr(`wrote ${flags.output}\n`);
  } else {
    io.stdout(text);
  }
  return report.failed.length ? 1 : 0;
}

async function models(modelsDir: string, io: Io): Promise<number> {
  const names = await listModels(modelsDir);
  if (!names.length) {
    io.stderr(`error: no models in ${modelsDir}\n`);
    return 2;
  }
  for (const name of names) {
    try {
      const m = await readManifest(`${modelsDir}/${name}`);
      io.stdout(`${name}@${m.version}  ${m.inputs.text ? 'image+text' : 'image'}  ${m.description}\n`);
      for (const [variant, v] of Object.entries(m.variants ?? {}))
        io.stdout(`${name}+${variant}@${m.version}+${variant}  ${v.description}\n`);
    } catch (error) {
      io.stdout(`${name}  (invalid: ${(error as Error).message})\n`);
    }
  }
  return 0;
}

export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  let exitCode = 0;
  const program = new Command()
    .name('mmlq-edge')
    .description('Score image aesthetics with an MMLQ model and rank the results.')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  addModelOptions(
    program
      .command('score')
      .description('score images (files, folders, globs) and print them ranked, best first')
      .argument('<inputs...>', 'image files, folders (searched recursively) or glob patterns'),
    io.env,
  )
    .option('-n, --top <n>', 'only the N best images (hero picks)', intArg('--top'))
    .option(
      '--distinct',
      'mark each near-duplicate of a better-ranked image (the same photo at another size or encoding: "same photo as"); --top then counts distinct photos',
    )
    .option('--json', 'print JSON')
    .option('--csv', 'print CSV')
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option(
      '--text-map <file>',
      'JSON object mapping image paths or file names to their text (caption, alt, comments)',
    )
    .option('--no-sidecar', 'do not read photo.txt / photo.jpg.txt beside each image as its text')
    .option(
      '--crop <aspects>',
      'best crop per aspect, e.g. 16:9,1:1 (W:H, at most 4): boxes in JSON, CSV and the table',
      aspectsArg,
    )
    .option('--crop-out <dir>', 'also write each crop as a file under <dir> (needs --crop)')
    .option('--no-progress', 'no progress bar')
    .action(async (inputs: string[], flags: ScoreFlags) => {
      exitCode = await score(inputs, flags, io);
    });

  program
    .command('models')
    .description('list the models available')
    .option('--models-dir <dir>', 'where models live', io.env['MODELS_DIR'] ?? DEFAULT_MODELS_DIR)
    .action(async (flags: { modelsDir: string }) => {
      exitCode = await models(resolve(io.cwd, flags.modelsDir), io);
    });

  const wordpress = program
    .command('wordpress')
    .description('work with a WordPress site that has the MMLQ Edge plugin, over its REST API');
  addModelOptions(
    wordpress
      .command('backfill')
      .description(
        "score the images of a WordPress media library from here and store the results on the site, as the plugin's webhook does",
      ),
    io.env,
  )
    .requiredOption('--site <url>', 'the site, e.g. https://example.com/ (https:// required)')
    .requiredOption(
      '--user <name>',
      'a WordPress user with the "MMLQ Edge scorer" role (or an administrator)',
    )
    .requiredOption(
      '--app-password-file <file>',
      "a file holding that user's application password (Users → Profile → Application Passwords); never printed",
    )
    .option('--unscored', 'only images that have no stored result yet (the default)')
    .option('--all', 'every image: rescore those scored from another file, text or model version')
    .option('--rate <n>', 'at most N requests per second to the site (REST calls and downloads)', rateArg, 4)
    .option(
      '--retries <n>',
      'retries of a call that fails with 429, 5xx or a timeout',
      countArg('--retries', 20, 0),
      5,
    )
    .option('--limit <n>', 'stop after N images were written (run again to continue)', countArg('--limit'))
    .option('--state <file>', 'where the resume state is kept (default: a file in the user cache folder)')
    .option('--restart', "forget an earlier run's state and start from the first image")
    .option('--page-size <n>', 'images per REST list request (2-100)', countArg('--page-size', 100, 2), 100)
    .option(
      '--image-origin <origin>',
      'another origin the images may be served from (a CDN), e.g. https://cdn.example.com; repeatable',
      collect,
    )
    .option(
      '--allow-insecure-local',
      'allow an http:// --site on this machine (localhost, 127.0.0.1, [::1]) and fetch its images from loopback',
    )
    .option(
      '--crop <aspects>',
      "best crop per aspect stored with each score (mmlq_crops), as the plugin's crop_aspects setting asks (default 16:9; 'none' for no crops)",
      (value: string) => (value.trim() === 'none' ? [] : aspectsArg(value)),
      cropAspects('16:9'),
    )
    .option('--json', 'print the summary as JSON')
    .option('--no-progress', 'no progress bar or per-image lines')
    .addHelpText(
      'after',
      `
Skips images whose stored mmlq_key already matches (same file, text and model version). Saves its
place after every image: Ctrl-C stops after the current image, and the same command continues there.
Writes what the plugin's webhook writes: mmlq_score, mmlq_std, mmlq_percentile, mmlq_tier, mmlq_model,
mmlq_scored_at, mmlq_attributes, mmlq_crops, mmlq_phash, mmlq_key, mmlq_error and one mmlq_tier term.
Give --crop the site's crop_aspects setting when it is not the default 16:9 (the key includes them).

Exit codes: 0 done (or stopped at --limit), 1 some images failed, 2 usage or site/user problem
(nothing scored), 130 interrupted (Ctrl-C).

Example:
  mmlq-edge wordpress backfill --site https://example.com/ --user mmlq-scorer \\
    --app-password-file ~/.config/mmlq-edge/example.com.password --rate 2`,
    )
    .action(async (flags: BackfillFlags) => {
      exitCode = await backfill(flags, io);
    });

  program.addCommand(
    bucketCommand(io, (code) => {
      exitCode = code;
    }),
  );

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (isMmlqError(error)) {
      io.stderr(`error [${error.code}]: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  return exitCode;
}
