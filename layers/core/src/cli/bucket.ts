/**
 * `mmlq-edge bucket ...`: score a whole bucket or prefix that already exists, with S3 Batch Operations
 * invoking the backfill function (on-upload's code) once per object (docs/DEPLOY.md "Score a whole
 * bucket"). The job is AWS's: it lists the bucket (or reads a CSV / S3 Inventory manifest), retries
 * temporary failures, keeps the progress and writes a completion report; this command starts it, shows
 * its progress and summarises the report. Resuming is starting again: the function answers `duplicate`
 * for what is already scored (same object version and model), so nothing is scored twice.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3ControlClient } from '@aws-sdk/client-s3-control';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError as CommanderArgError } from 'commander';
import {
  type BackfillJobSpec,
  cancelJob,
  createJob,
  createS3ControlClient,
  describeJob,
  type JobProgress,
  type JobSource,
  manifestEtag,
  parseS3Uri,
  type ReportRow,
  readReport,
} from '../clients/batch-operations.ts';
import { createS3Client, ObjectStore } from '../clients/s3.ts';
import { isMmlqError } from '../common/errors.ts';
import { IMAGE_SUFFIXES } from '../common/image-types.ts';
import { sleep } from '../common/time.ts';
import {
  DEFAULT_LIBRARY_SHARES,
  LIBRARY_SUMMARY_SUFFIX,
  type LibraryShares,
  LibraryStore,
  mixedModels,
  parseLibraryShares,
  type RecomputeProgress,
} from '../results/library.ts';
import type { Io } from './io.ts';

interface AwsFlags {
  accountId?: string;
  region: string;
  endpoint?: string;
  s3Endpoint?: string;
  timeoutMs: number;
  json?: boolean;
}

interface WatchFlags {
  watch?: boolean;
  interval: number;
}

interface BackfillFlags extends AwsFlags, WatchFlags {
  bucket: string;
  prefix: string;
  manifest?: string;
  suffixes: string;
  function?: string;
  role?: string;
  reportPrefix: string;
  priority: number;
}

/** What a completion report says, counted. */
export interface ReportSummary {
  scored: number;
  duplicate: number;
  /** Succeeded with another result (none today). */
  other: number;
  failed: number;
  /** The failed tasks (at most 1000 listed), key and reason. */
  failures: { key: string; reason: string }[];
}

export function summarise(rows: readonly ReportRow[]): ReportSummary {
  const summary: ReportSummary = { scored: 0, duplicate: 0, other: 0, failed: 0, failures: [] };
  for (const row of rows) {
    if (row.status !== 'succeeded') {
      summary.failed++;
      if (summary.failures.length < 1000)
        summary.failures.push({ key: row.key, reason: `${row.errorCode}: ${row.message}` });
    } else if (row.message.startsWith('scored')) summary.scored++;
    else if (row.message.startsWith('duplicate')) summary.duplicate++;
    else summary.other++;
  }
  return summary;
}

function intArg(name: string, min = 1) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new CommanderArgError(`Expected an integer >= ${min} for ${name} but received ${value}`);
    return n;
  };
}

function required(value: string | undefined, flag: string, env: string): string {
  if (!value) throw new CommanderArgError(`${flag} is required (or set ${env})`);
  return value;
}

function clients(flags: AwsFlags): { control: S3ControlClient; s3: S3Client; accountId: string } {
  const accountId = required(flags.accountId, '--account-id', 'AWS_ACCOUNT_ID');
  if (!/^\d{12}$/.test(accountId))
    throw new CommanderArgError(
      `Expected a 12-digit AWS account id for --account-id but received ${accountId}`,
    );
  return {
    accountId,
    control: createS3ControlClient({
      region: flags.region,
      endpoint: flags.endpoint,
      timeoutMs: flags.timeoutMs,
    }),
    s3: createS3Client({
      region: flags.region,
      endpoint: flags.s3Endpoint,
      forcePathStyle: flags.s3Endpoint !== undefined,
      timeoutMs: flags.timeoutMs,
    }),
  };
}

function progressLine(p: JobProgress): string {
  const done = p.succeeded + p.failed;
  const rate = p.elapsedS > 0 ? done / p.elapsedS : 0;
  const left = rate > 0 && p.total > done ? `, ~${Math.ceil((p.total - done) / rate)} s left` : '';
  return (
    `job ${p.id} ${p.status}: ${done}/${p.total} tasks done (${p.succeeded} succeeded, ${p.failed} failed)` +
    `${rate > 0 ? `, ${rate.toFixed(1)}/s` : ''}${left}`
  );
}

/** A progress bar on stderr for a person at a terminal; none for JSON or a pipe (they get lines). */
function progressBar(io: Io, flags: { json?: boolean }, format: string): SingleBar | undefined {
  return io.interactive && !flags.json
    ? new SingleBar({ format, stream: process.stderr, hideCursor: true })
    : undefined;
}

/** Polls the job until it ends (--watch) or once; prints progress; returns the last progress. */
async function follow(
  control: S3ControlClient,
  accountId: string,
  jobId: string,
  flags: WatchFlags & { json?: boolean },
  io: Io,
): Promise<JobProgress> {
  let progress = await describeJob(control, accountId, jobId);
  if (!flags.watch) return progress;
  const bar = progressBar(
    io,
    flags,
    'backfill [{bar}] {value}/{total} {status} ({failed} failed) {eta_formatted} left',
  );
  let last = '';
  bar?.start(Math.max(progress.total, 1), 0, { status: progress.status, failed: 0 });
  while (!progress.terminal) {
    const line = progressLine(progress);
    if (bar) {
      bar.setTotal(Math.max(progress.total, 1));
      bar.update(progress.succeeded + progress.failed, { status: progress.status, failed: progress.failed });
    } else if (line !== last) io.stderr(`${line}\n`);
    last = line;
    await sleep(flags.interval * 1000);
    progress = await describeJob(control, accountId, jobId);
  }
  bar?.update(progress.succeeded + progress.failed, { status: progress.status, failed: progress.failed });
  bar?.stop();
  return progress;
}

/** Prints the job's state (and, once it ended, its report's summary); the exit code. */
async function report(
  progress: JobProgress,
  s3: S3Client,
  flags: { json?: boolean },
  io: Io,
): Promise<number> {
  const rows =
    progress.terminal && progress.report ? await readReport(s3, progress.report, progress.id) : undefined;
  const summary = rows ? summarise(rows) : undefined;
  if (flags.json) {
    io.stdout(`${JSON.stringify({ job: progress, report: summary ?? null }, null, 2)}\n`);
  } else {
    io.stdout(`${progressLine(progress)}\n`);
    for (const reason of progress.failureReasons) io.stdout(`  job failure: ${reason}\n`);
    if (progress.report && progress.terminal) {
      const where = `s3://${progress.report.bucket}/${progress.report.prefix ? `${progress.report.prefix}/` : ''}job-${progress.id}/`;
      if (summary) {
        io.stdout(
          `report ${where}: ${summary.scored} scored, ${summary.duplicate} already scored, ${summary.failed} failed\n`,
        );
        for (const f of summary.failures.slice(0, 20)) io.stdout(`  failed ${f.key}: ${f.reason}\n`);
        if (summary.failed > 20) io.stdout(`  ... ${summary.failed - 20} more in the report\n`);
      } else io.stdout(`report ${where}: not written (yet)\n`);
    }
  }
  if (!progress.terminal) return 0;
  return progress.status === 'Complete' && progress.failed === 0 ? 0 : 1;
}

/** Runs a bucket subcommand: typed errors and AWS errors become one line and exit code 2 / 1. */
async function guarded(io: Io, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof CommanderArgError) {
      io.stderr(`error: ${error.message}\n`);
      return 2;
    }
    if (isMmlqError(error)) {
      io.stderr(`error [${error.code}]: ${error.message}\n`);
      return 2;
    }
    const e = error as Error;
    io.stderr(`error: ${e.name}: ${e.message}\n`);
    return 1;
  }
}

interface TiersFlags {
  bucket: string;
  library?: string;
  uploadPrefix: string;
  resultsPrefix: string;
  depth: number;
  shares: LibraryShares;
  full?: boolean;
  concurrency: number;
  region: string;
  s3Endpoint?: string;
  timeoutMs: number;
  json?: boolean;
}

function sharesArg(value: string): LibraryShares {
  try {
    return parseLibraryShares(value, '--shares');
  } catch (error) {
    throw new CommanderArgError((error as Error).message);
  }
}

const withSlash = (p: string): string => (p === '' || p.endsWith('/') ? p : `${p}/`);

/** `bucket tiers`: one recompute, with progress on stderr; a line (or JSON) per library. */
async function tiers(flags: TiersFlags, io: Io): Promise<number> {
  const objects = new ObjectStore(
    createS3Client({
      region: flags.region,
      endpoint: flags.s3Endpoint,
      forcePathStyle: flags.s3Endpoint !== undefined,
      timeoutMs: flags.timeoutMs,
    }),
  );
  const layout = { uploadPrefix: withSlash(flags.uploadPrefix), depth: flags.depth };
  const store = new LibraryStore(objects, withSlash(flags.resultsPrefix), layout);
  const bar = progressBar(
    io,
    flags,
    'library tiers [{bar}] {value}/{total} results read, {retagged} re-tagged',
  );
  bar?.start(1, 0, { retagged: 0 });
  let lastLine = 0;
  const onProgress = (p: RecomputeProgress) => {
    if (bar) {
      bar.setTotal(Math.max(p.toRead, 1));
      bar.update(p.read, { retagged: p.retagged });
    } else if (Date.now() - lastLine > 2000 && !flags.json) {
      lastLine = Date.now();
      io.stderr(
        `library tiers: ${p.listed} results listed, ${p.read}/${p.toRead} read, ${p.retagged} re-tagged\n`,
      );
    }
  };
  const report = await store.recompute(flags.bucket, {
    shares: flags.shares,
    ...(flags.library !== undefined ? { within: withSlash(flags.library) } : {}),
    full: flags.full === true,
    concurrency: flags.concurrency,
    onProgress,
  });
  bar?.stop();
  if (flags.json) {
    io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  if (!report.libraries.length)
    io.stdout(
      `no results under s3://${flags.bucket}/${store.resultsPrefix}${flags.library ?? layout.uploadPrefix}\n`,
    );
  for (const l of report.libraries) {
    const summary = `s3://${flags.bucket}/${store.resultsPrefix}${l.library}${LIBRARY_SUMMARY_SUFFIX}`;
    const orphaned = l.orphaned ? `, ${l.orphaned} left out (image deleted since scored, result kept)` : '';
    io.stdout(
      l.unchanged
        ? `${l.library}: ${l.count} ranked${orphaned}, unchanged since its summary (${summary})\n`
        : `${l.library}: ${l.count} ranked (${l.read} results read), ${l.retagged} re-tagged${orphaned}${l.gone ? `, ${l.gone} deleted while tagging` : ''} (${summary})\n`,
    );
    const mixed = mixedModels(l.models);
    if (mixed) io.stderr(`warning: ${l.library}: ${mixed}\n`);
  }
  return 0;
}

function awsOptions(command: Command, io: Io): Command {
  return command
    .option('--account-id <id>', 'AWS account that runs the job', io.env['AWS_ACCOUNT_ID'])
    .option('--region <region>', 'AWS region', io.env['AWS_REGION'] ?? 'us-east-1')
    .option('--endpoint <url>', 'S3 Control endpoint (the local stack prints it)')
    .option('--s3-endpoint <url>', 'S3 endpoint (local S3), for manifests and reports')
    .option('--timeout-ms <ms>', 'timeout of each AWS request', intArg('--timeout-ms'), 30_000)
    .option('--json', 'print JSON');
}

function watchOptions(command: Command): Command {
  return command
    .option('-w, --watch', 'follow the job until it ends, with progress')
    .option('--interval <s>', 'seconds between progress polls', intArg('--interval'), 5);
}

export function bucketCommand(io: Io, setExit: (code: number) => void): Command {
  const bucket = new Command('bucket')
    .description(
      'objects already in a bucket: score them (S3 Batch Operations invoking the backfill function), rank its libraries',
    )
    // Set before the subcommands are made: they copy these (addCommand copies nothing).
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  watchOptions(
    awsOptions(
      bucket
        .command('backfill')
        .description(
          'start a job that scores every image under a prefix (or in a manifest) that the deployed model version has not scored yet (after a model change: all of them)',
        )
        .requiredOption('-b, --bucket <name>', 'the bucket (results go to its results/ prefix)')
        .option('-p, --prefix <prefix>', 'score the keys under this prefix', 'uploads/')
        .option(
          '--manifest <s3uri>',
          'score the objects of a manifest instead: a CSV of Bucket,Key (URL-encoded keys) or an S3 Inventory manifest.json',
        )
        .option('--suffixes <list>', 'comma-separated key suffixes to score', IMAGE_SUFFIXES.join(','))
        .option(
          '--function <arn>',
          'the backfill function (stack output BackfillFunctionArn)',
          io.env['MMLQ_BACKFILL_FUNCTION'],
        )
        .option(
          '--role <arn>',
          'the role Batch Operations assumes (stack output BatchOperationsRoleArn)',
          io.env['MMLQ_BACKFILL_ROLE'],
        )
        .option(
          '--report-prefix <prefix>',
          'where in the bucket the completion report goes',
          'backfill/reports',
        )
        .option('--priority <n>', 'job priority (higher runs first)', intArg('--priority', 0), 10),
      io,
    ),
  ).action(async (flags: BackfillFlags) => {
    setExit(
      await guarded(io, async () => {
        const { control, s3, accountId } = clients(flags);
        const functionArn = required(flags.function, '--function', 'MMLQ_BACKFILL_FUNCTION');
        const roleArn = required(flags.role, '--role', 'MMLQ_BACKFILL_ROLE');
        let source: JobSource;
        if (flags.manifest) {
          const { bucket: mb, key } = parseS3Uri(flags.manifest);
          source = {
            kind: 'manifest',
            bucket: mb,
            key,
            etag: await manifestEtag(s3, mb, key),
            format: key.endsWith('manifest.json') ? 'inventory' : 'csv',
          };
        } else {
          const suffixes = flags.suffixes
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
          source = { kind: 'prefix', bucket: flags.bucket, prefix: flags.prefix, suffixes };
        }
        const spec: BackfillJobSpec = {
          accountId,
          functionArn,
          roleArn,
          source,
          report: { bucket: flags.bucket, prefix: flags.reportPrefix },
          priority: flags.priority,
          description: `mmlq-edge backfill ${flags.manifest ?? `s3://${flags.bucket}/${flags.prefix}`}`,
        };
        const jobId = await createJob(control, spec);
        io.stderr(
          `started job ${jobId}: ${spec.description}\n` +
            `  progress: mmlq-edge bucket status ${jobId} --watch   stop: mmlq-edge bucket cancel ${jobId}\n`,
        );
        if (!flags.watch) {
          if (flags.json) io.stdout(`${JSON.stringify({ jobId })}\n`);
          else io.stdout(`${jobId}\n`);
          return 0;
        }
        return report(await follow(control, accountId, jobId, flags, io), s3, flags, io);
      }),
    );
  });

  watchOptions(
    awsOptions(
      bucket
        .command('status')
        .description("a job's progress; once it ended, its completion report summarised")
        .argument('<job>', 'the job id'),
      io,
    ),
  ).action(async (jobId: string, flags: AwsFlags & WatchFlags) => {
    setExit(
      await guarded(io, async () => {
        const { control, s3, accountId } = clients(flags);
        return report(await follow(control, accountId, jobId, flags, io), s3, flags, io);
      }),
    );
  });

  bucket
    .command('tiers')
    .description(
      'rank each library (a folder of the upload prefix) again from its results: write its summary and re-tag images whose library tier changed (what the libraryTiers schedule does)',
    )
    .requiredOption('-b, --bucket <name>', 'the bucket')
    .option('--library <prefix>', 'rank this library (and the ones below it) only; default: all of them')
    .option('--upload-prefix <prefix>', 'the upload prefix (UPLOAD_PREFIX)', 'uploads/')
    .option('--results-prefix <prefix>', 'where the results are (RESULTS_PREFIX)', 'results/')
    .option(
      '--depth <n>',
      'folders below the upload prefix that make a library (LIBRARY_DEPTH; 0: one library)',
      intArg('--depth', 0),
      0,
    )
    .option(
      '--shares <top,good,average>',
      'best shares in whole per cent for top, good and average (LIBRARY_TIERS)',
      sharesArg,
      { ...DEFAULT_LIBRARY_SHARES },
    )
    .option('--full', 're-tag every image, also in libraries whose results did not change')
    .option('--concurrency <n>', 'S3 requests in flight at most', intArg('--concurrency'), 16)
    .option('--region <region>', 'AWS region', io.env['AWS_REGION'] ?? 'us-east-1')
    .option('--s3-endpoint <url>', 'S3 endpoint (local S3)')
    .option('--timeout-ms <ms>', 'timeout of each AWS request', intArg('--timeout-ms'), 30_000)
    .option('--json', 'print JSON')
    .action(async (flags: TiersFlags) => {
      setExit(await guarded(io, () => tiers(flags, io)));
    });

  awsOptions(
    bucket
      .command('cancel')
      .description('stop a job: tasks in flight finish, no new ones start; start a backfill again to resume')
      .argument('<job>', 'the job id'),
    io,
  ).action(async (jobId: string, flags: AwsFlags) => {
    setExit(
      await guarded(io, async () => {
        const { control, accountId } = clients(flags);
        const status = await cancelJob(control, accountId, jobId);
        if (flags.json) io.stdout(`${JSON.stringify({ jobId, status })}\n`);
        else io.stdout(`job ${jobId} ${status}\n`);
        return 0;
      }),
    );
  });

  return bucket;
}
