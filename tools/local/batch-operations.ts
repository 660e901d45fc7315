/**
 * A local stand-in for S3 Batch Operations (AWS's control plane cannot run here), for the bucket
 * backfill: it speaks the three S3 Control calls the CLI makes (CreateJob, DescribeJob, UpdateJobStatus
 * to Cancelled) and runs a LambdaInvoke job the way AWS does:
 *
 * - the manifest: the manifest generator (list the bucket under a prefix, suffix filter, case-sensitive),
 *   a CSV manifest (Bucket,Key, keys URL-encoded) or an S3 Inventory manifest.json (gzipped CSV files);
 *   the manifest's ETag must match the one given, or the job fails;
 * - one task per invocation, invocation schema 2.0 (bucket name, URL-encoded key), through the real
 *   function on serverless-offline's Lambda endpoint, at most `concurrency` in flight (on AWS: the
 *   function's reserved concurrency);
 * - TemporaryFailure and failed invocations are retried with exponential backoff, `attempts` in all,
 *   then the task fails; PermanentFailure fails it at once;
 * - progress (total, succeeded, failed, seconds active) on DescribeJob while it runs; a cancelled job
 *   lets the tasks in flight finish and starts no more;
 * - a completion report (Report_CSV_20180820, all tasks) under <prefix>/job-<id>/ when the job ends
 *   (complete, cancelled or failed), as AWS writes it.
 *
 * Not modelled: confirmation, priorities, job tags, the 50%-failed threshold that fails a job on AWS,
 * throttling (the bound here is `concurrency`).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { parseCsv } from '#core/clients/batch-operations.ts';
import { decodeEventKey, encodeEventKey } from '#core/clients/s3-event.ts';
import { sleep } from '#core/common/time.ts';

export interface BatchOperationsOptions {
  s3: S3Client;
  lambda: LambdaClient;
  /** Invocations in flight at most, all jobs together (default 2). */
  concurrency?: number;
  /** Attempts per task for TemporaryFailure or a failed invocation (default 3). */
  attempts?: number;
  /** Delay before retry n is backoffMs * 2^(n-1) (default 500). */
  backoffMs?: number;
  log?: (line: string) => void;
}

interface Task {
  bucket: string;
  /** Decoded. */
  key: string;
  versionId: string | undefined;
}

interface TaskOutcome extends Task {
  status: 'succeeded' | 'failed';
  errorCode: string;
  httpStatus: number;
  message: string;
}

type Status = 'New' | 'Preparing' | 'Active' | 'Cancelling' | 'Cancelled' | 'Complete' | 'Failed';

interface Job {
  id: string;
  token: string;
  status: Status;
  description: string;
  priority: number;
  roleArn: string;
  functionArn: string;
  schema: string;
  report: { bucket: string; prefix: string; enabled: boolean };
  total: number;
  succeeded: number;
  failed: number;
  activeSince: number | undefined;
  activeUntil: number | undefined;
  failureReasons: { code: string; reason: string }[];
  outcomes: TaskOutcome[];
  done: Promise<void>;
  body: string;
}

const XMLNS = 'http://awss3control.amazonaws.com/doc/2018-08-20/';

/** The text of the first <name>…</name> in xml (entities decoded), or undefined. */
function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m ? unxml(m[1]!) : undefined;
}
function all(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => unxml(m[1]!));
}
function unxml(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}
function esc(s: string | number): string {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
const bucketOf = (arn: string): string => arn.replace(/^arn:aws[a-z-]*:s3:::/, '');

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export class BatchOperationsStandIn {
  private server: Server | undefined;
  private readonly jobs = new Map<string, Job>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** Lambda invocations made, all jobs together, and the most in flight at once. */
  invocations = 0;
  maxInFlight = 0;
  endpoint = '';

  constructor(private readonly options: BatchOperationsOptions) {}

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((error: Error) => {
        this.options.log?.(`batch operations: ${error.message}`);
        if (!res.headersSent)
          this.error(res, 500, 'InternalError', 'the local Batch Operations stand-in failed');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    const address = this.server.address() as { port: number };
    this.endpoint = `http://${host}:${address.port}`;
    return this.endpoint;
  }

  /** Stops taking requests; jobs still running are cancelled and their reports written. */
  async stop(): Promise<void> {
    for (const job of this.jobs.values()) if (job.status === 'Active') job.status = 'Cancelling';
    await Promise.all([...this.jobs.values()].map((j) => j.done));
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Resolves when the job has ended (its report written). */
  async settled(jobId: string): Promise<void> {
    await this.jobs.get(jobId)?.done;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    let body = '';
    for await (const chunk of req) body += chunk;
    if (!req.headers['x-amz-account-id']) {
      return this.error(res, 400, 'InvalidRequest', 'x-amz-account-id header missing');
    }
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] !== 'v20180820' || parts[1] !== 'jobs')
      return this.error(res, 404, 'NotFound', url.pathname);
    if (req.method === 'POST' && parts.length === 2) return this.create(body, res);
    const job = parts[2] ? this.jobs.get(decodeURIComponent(parts[2])) : undefined;
    if (!job) return this.error(res, 404, 'NoSuchJob', `The specified job does not exist`);
    if (req.method === 'GET' && parts.length === 3) return this.describe(job, res);
    if (req.method === 'POST' && parts[3] === 'status') {
      const wanted = url.searchParams.get('requestedJobStatus');
      if (wanted !== 'Cancelled') return this.error(res, 400, 'InvalidRequest', `cannot move to ${wanted}`);
      if (['Complete', 'Failed', 'Cancelled'].includes(job.status)) {
        return this.error(res, 400, 'JobStatusException', `the job is ${job.status}`);
      }
      job.status = 'Cancelling';
      this.options.log?.(`batch operations: job ${job.id} cancelling`);
      return this.xml(
        res,
        `<UpdateJobStatusResult><JobId>${esc(job.id)}</JobId><Status>${job.status}</Status></UpdateJobStatusResult>`,
      );
    }
    return this.error(res, 404, 'NotFound', url.pathname);
  }

  private create(body: string, res: ServerResponse): void {
    const token = tag(body, 'ClientRequestToken') ?? randomUUID();
    const existing = [...this.jobs.values()].find((j) => j.token === token);
    if (existing) {
      this.xml(res, `<CreateJobResult><JobId>${esc(existing.id)}</JobId></CreateJobResult>`);
      return;
    }
    const invoke = tag(body, 'LambdaInvoke');
    const reportXml = tag(body, 'Report') ?? '';
    if (!invoke) {
      this.error(res, 400, 'InvalidRequest', 'only LambdaInvoke jobs are supported here');
      return;
    }
    const job: Job = {
      id: randomUUID(),
      token,
      status: 'New',
      description: tag(body, 'Description') ?? '',
      priority: Number(tag(body, 'Priority') ?? 0),
      roleArn: tag(body, 'RoleArn') ?? '',
      functionArn: tag(invoke, 'FunctionArn') ?? '',
      schema: tag(invoke, 'InvocationSchemaVersion') ?? '1.0',
      report: {
        enabled: tag(reportXml, 'Enabled') === 'true',
        bucket: bucketOf(tag(reportXml, 'Bucket') ?? ''),
        prefix: tag(reportXml, 'Prefix') ?? '',
      },
      total: 0,
      succeeded: 0,
      failed: 0,
      activeSince: undefined,
      activeUntil: undefined,
      failureReasons: [],
      outcomes: [],
      done: Promise.resolve(),
      body,
    };
    this.jobs.set(job.id, job);
    job.done = this.run(job).catch((error: Error) => {
      job.status = 'Failed';
      job.failureReasons.push({ code: 'InternalError', reason: error.message });
    });
    this.options.log?.(`batch operations: job ${job.id} created (${job.description})`);
    this.xml(res, `<CreateJobResult><JobId>${esc(job.id)}</JobId></CreateJobResult>`);
  }

  private describe(job: Job, res: ServerResponse): void {
    const active =
      job.activeSince === undefined ? 0 : ((job.activeUntil ?? Date.now()) - job.activeSince) / 1000;
    const failures = job.failureReasons
      .map(
        (f) =>
          `<member><FailureCode>${esc(f.code)}</FailureCode><FailureReason>${esc(f.reason)}</FailureReason></member>`,
      )
      .join('');
    this.xml(
      res,
      `<DescribeJobResult><Job><JobId>${esc(job.id)}</JobId><ConfirmationRequired>false</ConfirmationRequired>` +
        `<Description>${esc(job.description)}</Description><Status>${job.status}</Status>` +
        `<Priority>${job.priority}</Priority><RoleArn>${esc(job.roleArn)}</RoleArn>` +
        `<ProgressSummary><TotalNumberOfTasks>${job.total}</TotalNumberOfTasks>` +
        `<NumberOfTasksSucceeded>${job.succeeded}</NumberOfTasksSucceeded>` +
        `<NumberOfTasksFailed>${job.failed}</NumberOfTasksFailed>` +
        `<Timers><ElapsedTimeInActiveSeconds>${Math.round(active)}</ElapsedTimeInActiveSeconds></Timers></ProgressSummary>` +
        `<FailureReasons>${failures}</FailureReasons>` +
        `<Report><Bucket>arn:aws:s3:::${esc(job.report.bucket)}</Bucket><Format>Report_CSV_20180820</Format>` +
        `<Enabled>${job.report.enabled}</Enabled><Prefix>${esc(job.report.prefix)}</Prefix><ReportScope>AllTasks</ReportScope></Report>` +
        `</Job></DescribeJobResult>`,
    );
  }

  private xml(res: ServerResponse, inner: string): void {
    const text = `<?xml version="1.0" encoding="UTF-8"?>\n${inner.replace(/^<(\w+)>/, `<$1 xmlns="${XMLNS}">`)}`;
    res.writeHead(200, { 'content-type': 'application/xml', 'x-amz-request-id': randomUUID() });
    res.end(text);
  }

  private error(res: ServerResponse, status: number, code: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/xml' });
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Code>${esc(code)}</Code><Message>${esc(message)}</Message></Error></ErrorResponse>`,
    );
  }

  // --- running a job -------------------------------------------------------------------------------

  private async run(job: Job): Promise<void> {
    job.status = 'Preparing';
    let tasks: Task[];
    try {
      if (job.schema !== '2.0')
        throw new Error(`InvocationSchemaVersion ${job.schema}: this stand-in sends 2.0`);
      tasks = await this.tasksOf(job.body);
    } catch (error) {
      job.status = 'Failed';
      job.failureReasons.push({ code: 'ManifestError', reason: (error as Error).message });
      this.options.log?.(`batch operations: job ${job.id} failed: ${(error as Error).message}`);
      return;
    }
    job.total = tasks.length;
    if (job.status === 'Preparing') job.status = 'Active';
    job.activeSince = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < tasks.length && job.status === 'Active') {
        const task = tasks[next++]!;
        const outcome = await this.runTask(job, task);
        job.outcomes.push(outcome);
        if (outcome.status === 'succeeded') job.succeeded++;
        else job.failed++;
      }
    };
    const limit = this.options.concurrency ?? 2;
    await Promise.all(Array.from({ length: Math.min(limit, Math.max(tasks.length, 1)) }, worker));
    job.activeUntil = Date.now();
    // The report first: a client that sees the job ended finds its report.
    if (job.report.enabled) await this.writeReport(job);
    job.status = (job.status as Status) === 'Cancelling' ? 'Cancelled' : 'Complete';
    this.options.log?.(
      `batch operations: job ${job.id} ${job.status}: ${job.succeeded} succeeded, ${job.failed} failed of ${job.total}`,
    );
  }

  /** The tasks of a job: its manifest generator's listing, or its manifest. */
  private async tasksOf(body: string): Promise<Task[]> {
    const generator = tag(body, 'S3JobManifestGenerator');
    if (generator) {
      const bucket = bucketOf(tag(generator, 'SourceBucket') ?? '');
      const constraint = tag(generator, 'KeyNameConstraint') ?? '';
      const prefixes = all(tag(constraint, 'MatchAnyPrefix') ?? '', 'member');
      const suffixes = all(tag(constraint, 'MatchAnySuffix') ?? '', 'member');
      const tasks: Task[] = [];
      for (const prefix of prefixes.length ? prefixes : ['']) {
        // ListObjects (v1) with a marker: s3rver's v2 continuation token needs the DES cipher, which
        // Node's OpenSSL 3 no longer has, so any truncated v2 listing fails there.
        let marker: string | undefined;
        do {
          const out = await this.options.s3.send(
            new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker }),
          );
          for (const o of out.Contents ?? []) {
            if (!suffixes.length || suffixes.some((s) => o.Key!.endsWith(s)))
              tasks.push({ bucket, key: o.Key!, versionId: undefined });
          }
          marker = out.IsTruncated ? out.Contents?.at(-1)?.Key : undefined;
        } while (marker);
      }
      return tasks;
    }
    const manifest = tag(body, 'Manifest');
    if (!manifest) throw new Error('the job names neither a manifest nor a manifest generator');
    const arn = tag(manifest, 'ObjectArn') ?? '';
    const [bucket, ...rest] = bucketOf(arn).split('/');
    const key = rest.join('/');
    const etag = (tag(manifest, 'ETag') ?? '').replace(/^"|"$/g, '');
    const head = await this.options.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    if ((head.ETag ?? '').replace(/^"|"$/g, '') !== etag) {
      throw new Error(`the manifest s3://${bucket}/${key} has ETag ${head.ETag}, not ${etag}`);
    }
    const format = tag(manifest, 'Format');
    const text = await this.read(bucket!, key);
    if (format === 'S3BatchOperations_CSV_20180820') {
      const fields = all(tag(manifest, 'Fields') ?? '', 'member');
      const bi = fields.indexOf('Bucket');
      const ki = fields.indexOf('Key');
      const vi = fields.indexOf('VersionId');
      return parseCsv(text.toString('utf8'))
        .filter((row) => row.length > 1)
        .map((row) => ({
          bucket: row[bi]!,
          key: decodeEventKey(row[ki]!),
          versionId: vi >= 0 ? row[vi] || undefined : undefined,
        }));
    }
    if (format === 'S3InventoryReport_CSV_20161130') {
      const inventory = JSON.parse(text.toString('utf8')) as {
        fileSchema: string;
        files: { key: string }[];
        destinationBucket?: string;
      };
      const columns = inventory.fileSchema.split(',').map((c) => c.trim());
      const bi = columns.indexOf('Bucket');
      const ki = columns.indexOf('Key');
      const vi = columns.indexOf('VersionId');
      const tasks: Task[] = [];
      for (const file of inventory.files) {
        const from = inventory.destinationBucket ? bucketOf(inventory.destinationBucket) : bucket!;
        const csv = gunzipSync(await this.read(from, file.key)).toString('utf8');
        for (const row of parseCsv(csv)) {
          if (row.length < 2) continue;
          tasks.push({
            bucket: row[bi]!,
            key: decodeEventKey(row[ki]!),
            versionId: vi >= 0 ? row[vi] || undefined : undefined,
          });
        }
      }
      return tasks;
    }
    throw new Error(`manifest format ${format} is not supported here`);
  }

  private async read(bucket: string, key: string): Promise<Buffer> {
    const out = await this.options.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  }

  private async slot(): Promise<() => void> {
    const limit = this.options.concurrency ?? 2;
    while (this.running >= limit) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    this.maxInFlight = Math.max(this.maxInFlight, this.running);
    return () => {
      this.running--;
      this.waiting.shift()?.();
    };
  }

  private async runTask(job: Job, task: Task): Promise<TaskOutcome> {
    const name = job.functionArn.replace(/^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:/, '').split(':')[0]!;
    const attempts = this.options.attempts ?? 3;
    const backoffMs = this.options.backoffMs ?? 500;
    let last = '';
    let lastCode = 'TemporaryFailure';
    for (let n = 1; n <= attempts; n++) {
      const event = {
        invocationSchemaVersion: '2.0',
        invocationId: randomUUID(),
        job: { id: job.id, userArguments: {} },
        tasks: [
          {
            taskId: randomUUID(),
            s3Bucket: task.bucket,
            s3Key: encodeEventKey(task.key),
            s3VersionId: task.versionId ?? null,
          },
        ],
      };
      const release = await this.slot();
      try {
        this.invocations++;
        const out = await this.options.lambda.send(
          new InvokeCommand({
            FunctionName: name,
            InvocationType: 'RequestResponse',
            Payload: JSON.stringify(event),
          }),
        );
        const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
        if (out.FunctionError) {
          lastCode = 'LambdaFunctionError';
          last = text.slice(0, 500);
        } else {
          const answer = JSON.parse(text) as { results?: { resultCode: string; resultString: string }[] };
          const result = answer.results?.[0];
          if (result?.resultCode === 'Succeeded' || result?.resultCode === 'PermanentFailure') {
            const ok = result.resultCode === 'Succeeded';
            return {
              ...task,
              status: ok ? 'succeeded' : 'failed',
              errorCode: ok ? '' : 'PermanentFailure',
              httpStatus: 200,
              message: result.resultString ?? '',
            };
          }
          lastCode = result ? 'TemporaryFailure' : 'LambdaResponseInvalid';
          last = result?.resultString ?? `no result in ${text.slice(0, 200)}`;
        }
      } catch (error) {
        lastCode = 'LambdaInvokeFailed';
        last = (error as Error).message;
      } finally {
        release();
      }
      this.options.log?.(`batch operations: ${task.key} attempt ${n} of ${attempts}: ${lastCode} ${last}`);
      if (n < attempts) await sleep(backoffMs * 2 ** (n - 1));
    }
    return { ...task, status: 'failed', errorCode: lastCode, httpStatus: 200, message: last };
  }

  private async writeReport(job: Job): Promise<void> {
    const base = `${job.report.prefix ? `${job.report.prefix.replace(/\/+$/, '')}/` : ''}job-${job.id}`;
    const results: { TaskExecutionStatus: string; Bucket: string; MD5Checksum: string; Key: string }[] = [];
    for (const status of ['succeeded', 'failed'] as const) {
      const rows = job.outcomes.filter((o) => o.status === status);
      if (!rows.length) continue;
      const csv = rows
        .map((o) =>
          [
            o.bucket,
            encodeEventKey(o.key),
            o.versionId ?? '',
            status,
            o.errorCode,
            String(o.httpStatus),
            o.message,
          ]
            .map(csvField)
            .join(','),
        )
        .join('\n');
      const body = `${csv}\n`;
      const key = `${base}/results/${createHash('sha1').update(`${job.id}/${status}`).digest('hex')}.csv`;
      await this.options.s3.send(
        new PutObjectCommand({ Bucket: job.report.bucket, Key: key, Body: body, ContentType: 'text/csv' }),
      );
      results.push({
        TaskExecutionStatus: status,
        Bucket: job.report.bucket,
        MD5Checksum: createHash('md5').update(body).digest('hex'),
        Key: key,
      });
    }
    const manifest = {
      Format: 'Report_CSV_20180820',
      ReportCreationDate: new Date().toISOString(),
      Results: results,
      ReportSchema: 'Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage',
    };
    await this.options.s3.send(
      new PutObjectCommand({
        Bucket: job.report.bucket,
        Key: `${base}/manifest.json`,
        Body: JSON.stringify(manifest, null, 2),
        ContentType: 'application/json',
      }),
    );
  }
}
