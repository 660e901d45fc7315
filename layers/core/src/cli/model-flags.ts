/**
 * The flags that choose and run a model, the same for every CLI command that scores (`score`,
 * `wordpress backfill`): declared once, turned into a Scorer once.
 */
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError as CommanderArgError, Option } from 'commander';
import { DEFAULT_MODEL, DEFAULT_MODELS_DIR } from '../model/registry.ts';
import { PROVIDERS, type Provider } from '../model/runtime.ts';
import { Scorer } from '../model/scorer.ts';
import type { TierThresholds } from '../model/scores.ts';

export interface ModelFlags {
  model: string;
  modelsDir: string;
  batchSize: number;
  /** onnxruntime intra-op threads; 0 or absent = one per core. */
  threads?: number;
  provider: Provider;
  tiers?: string;
}

export function intArg(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0)
      throw new CommanderArgError(`Expected positive integer for ${name} but received ${value}`);
    return n;
  };
}

/** Adds -m/--model, --models-dir, --batch-size, --threads, --provider and --tiers to a command. */
export function addModelOptions(command: Command, env: NodeJS.ProcessEnv): Command {
  return command
    .option(
      '-m, --model <name>',
      'model name (a folder under --models-dir)',
      env['MMLQ_MODEL'] ?? DEFAULT_MODEL,
    )
    .option('--models-dir <dir>', 'where models live', env['MODELS_DIR'] ?? DEFAULT_MODELS_DIR)
    .option('--batch-size <n>', 'images per inference run', intArg('--batch-size'), 8)
    .option('--threads <n>', 'onnxruntime threads per operator (default: one per core)', intArg('--threads'))
    .addOption(
      new Option('--provider <name>', 'execution provider (falls back to cpu)')
        .choices(PROVIDERS)
        .default('cpu'),
    )
    .option('--tiers <spec>', 'percentile thresholds, e.g. top=90,good=60,average=25');
}

/** The Scorer the flags ask for (models dir from the caller's folder; model messages to stderr). */
export function createScorer(
  flags: ModelFlags,
  tiers: TierThresholds | undefined,
  io: { cwd: string; stderr: (text: string) => void },
): Promise<Scorer> {
  return Scorer.create({
    model: flags.model,
    modelsDir: resolve(io.cwd, flags.modelsDir),
    batchSize: flags.batchSize,
    intraOpThreads: flags.threads ?? 0,
    provider: flags.provider,
    ...(tiers ? { tiers } : {}),
    log: (m) => io.stderr(`${m}\n`),
  });
}
