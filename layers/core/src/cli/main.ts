/**
 * mmlq-edge CLI.
 *
 *   mmlq-edge score <files|folders|globs...> [--top N] [--json|--csv] [--text-map map.json]
 *   mmlq-edge models
 *   mmlq-edge wordpress backfill --site URL --user U --app-password-file F [--unscored|--all]
 *
 * Exit codes: 0 every image scored; 1 at least one image failed (the others are still reported);
 * 2 usage or model errors (nothing scored).
 */
import { writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError as CommanderArgError, CommanderError, Option } from 'commander';
import { isMmlqError } from '../common/errors.ts';
import { readManifest } from '../model/manifest.ts';
import { DEFAULT_MODEL, DEFAULT_MODELS_DIR, listModels } from '../model/registry.ts';
import { PROVIDERS, type Provider } from '../model/runtime.ts';
import { type ScoreOutcome, type ScoreRequest, Scorer } from '../model/scorer.ts';
import { parseThresholds } from '../model/scores.ts';
import { expandInputs, readTextMap, type TextMap, textFor, unusedTextMapKeys } from './inputs.ts';
import { buildReport, formatCsv, formatJson, formatTable } from './output.ts';
import { type BackfillFlags, backfill } from './wordpress.ts';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is an interactive terminal (progress bar). */
  interactive: boolean;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Ctrl-C for commands that stop cleanly (wordpress backfill): aborts the signal on the first one. */
  interrupts?: () => { signal: AbortSignal; dispose: () => void };
}

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

function intArg(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0)
      throw new CommanderArgError(`Expected positive integer for ${name} but received ${value}`);
    return n;
  };
}

interface ScoreFlags {
  model: string;
  modelsDir: string;
  top?: number;
  json?: boolean;
  csv?: boolean;
  output?: string;
  textMap?: string;
  sidecar: boolean;
  batchSize: number;
  threads: number;
  provider: Provider;
  tiers?: string;
  progress: boolean;
}

async function score(inputs: string[], flags: ScoreFlags, io: Io): Promise<number> {
  if (flags.json && flags.csv) {
    io.stderr('error: choose one of --json or --csv\n');
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
  const scorer = await Scorer.create({
    model: flags.model,
    modelsDir: resolve(io.cwd, flags.modelsDir),
    batchSize: flags.batchSize,
    intraOpThreads: flags.threads,
    provider: flags.provider,
    ...(tiers ? { tiers } : {}),
    log: (m) => io.stderr(`${m}\n`),
  });
  const requests: ScoreRequest[] = await Promise.all(
    files.map(async (file) => ({
      id: relative(io.cwd, file) || file,
      image: { path: file },
      text: scorer.modelInfo.multimodal ? await textFor(file, textMap, flags.sidecar, io.cwd) : undefined,
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
  );
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

  program
    .command('score')
    .description('score images (files, folders, globs) and print them ranked, best first')
    .argument('<inputs...>', 'image files, folders (searched recursively) or glob patterns')
    .option(
      '-m, --model <name>',
      'model name (a folder under --models-dir)',
      io.env['MMLQ_MODEL'] ?? DEFAULT_MODEL,
    )
    .option('--models-dir <dir>', 'where models live', io.env['MODELS_DIR'] ?? DEFAULT_MODELS_DIR)
    .option('-n, --top <n>', 'only the N best images (hero picks)', intArg('--top'))
    .option('--json', 'print JSON')
    .option('--csv', 'print CSV')
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option(
      '--text-map <file>',
      'JSON object mapping image paths or file names to their text (caption, alt, comments)',
    )
    .option('--no-sidecar', 'do not read photo.txt / photo.jpg.txt beside each image as its text')
    .option('--batch-size <n>', 'images per inference run', intArg('--batch-size'), 8)
    .option('--threads <n>', 'onnxruntime threads per operator (default: one per core)', intArg('--threads'))
    .addOption(
      new Option('--provider <name>', 'execution provider (falls back to cpu)')
        .choices(PROVIDERS)
        .default('cpu'),
    )
    .option('--tiers <spec>', 'percentile thresholds, e.g. top=90,good=60,average=25')
    .option('--no-progress', 'no progress bar')
    .action(async (inputs: string[], flags: ScoreFlags & { threads?: number }) => {
      exitCode = await score(inputs, { ...flags, threads: flags.threads ?? 0 }, io);
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
  wordpress
    .command('backfill')
    .description(
      "score the images of a WordPress media library from here and store the results on the site, as the plugin's webhook does",
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
      '-m, --model <name>',
      'model name (a folder under --models-dir)',
      io.env['MMLQ_MODEL'] ?? DEFAULT_MODEL,
    )
    .option('--models-dir <dir>', 'where models live', io.env['MODELS_DIR'] ?? DEFAULT_MODELS_DIR)
    .option('--batch-size <n>', 'images per inference run', intArg('--batch-size'), 8)
    .option('--threads <n>', 'onnxruntime threads per operator (default: one per core)', intArg('--threads'))
    .addOption(
      new Option('--provider <name>', 'execution provider (falls back to cpu)')
        .choices(PROVIDERS)
        .default('cpu'),
    )
    .option('--tiers <spec>', 'percentile thresholds, e.g. top=90,good=60,average=25')
    .option('--json', 'print the summary as JSON')
    .option('--no-progress', 'no progress bar or per-image lines')
    .addHelpText(
      'after',
      `
Skips images whose stored mmlq_key already matches (same file, text and model version). Saves its
place after every image: Ctrl-C stops after the current image, and the same command continues there.
Writes what the plugin's webhook writes: mmlq_score, mmlq_std, mmlq_percentile, mmlq_tier, mmlq_model,
mmlq_scored_at, mmlq_attributes, mmlq_key, mmlq_error and one mmlq_tier term.

Exit codes: 0 done (or stopped at --limit), 1 some images failed, 2 usage or site/user problem
(nothing scored), 130 interrupted (Ctrl-C).

Example:
  mmlq-edge wordpress backfill --site https://example.com/ --user mmlq-scorer \\
    --app-password-file ~/.config/mmlq-edge/example.com.password --rate 2`,
    )
    .action(async (flags: BackfillFlags & { threads?: number }) => {
      exitCode = await backfill({ ...flags, threads: flags.threads ?? 0 }, io);
    });

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
