/**
 * S3 Batch Operations (S3 Control) for the bucket backfill: create a LambdaInvoke job (schema 2.0) over
 * a prefix (Batch Operations lists the bucket itself: its manifest generator) or over a manifest (a CSV
 * of Bucket,Key or an S3 Inventory report's manifest.json), read its progress, cancel it, and read its
 * completion report. The CLI (`mmlq-edge bucket ...`) is the caller; `endpoint` points it at the local
 * stand-in (tools/local/batch-operations.ts).
 */
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  CreateJobCommand,
  type CreateJobCommandInput,
  DescribeJobCommand,
  type JobStatus,
  S3ControlClient,
  UpdateJobStatusCommand,
} from '@aws-sdk/client-s3-control';
import { InvalidArgumentError } from '../common/errors.ts';
import { requestHandler } from './aws.ts';
import { decodeEventKey } from './s3-event.ts';

export const TERMINAL_STATUSES: readonly JobStatus[] = ['Complete', 'Failed', 'Cancelled'];

export function createS3ControlClient(options: {
  region: string;
  endpoint?: string | undefined;
  timeoutMs: number;
  /** Default: the SDK's provider chain (environment, profile, role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}): S3ControlClient {
  const { endpoint, credentials } = options;
  return new S3ControlClient({
    region: options.region,
    ...(credentials ? { credentials } : {}),
    requestHandler: requestHandler(options.timeoutMs),
    // S3 Control puts the account id in front of the host (<account>.s3-control...); a local endpoint
    // (an address, not a name) takes the requests as they are.
    ...(endpoint ? { endpoint, endpointProvider: () => ({ url: new URL(endpoint) }) } : {}),
  });
}

/** s3://bucket/key → { bucket, key }, with a clear error for anything else. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new InvalidArgumentError(`Expected an S3 URI like s3://bucket/key but received "${uri}"`);
  return { bucket: match[1]!, key: match[2]! };
}

export type JobSource =
  | { kind: 'prefix'; bucket: string; prefix: string; suffixes: readonly string[] }
  | { kind: 'manifest'; bucket: string; key: string; etag: string; format: 'csv' | 'inventory' };

export interface BackfillJobSpec {
  accountId: string;
  functionArn: string;
  roleArn: string;
  source: JobSource;
  /** Completion report: bucket and prefix (Batch Operations writes <prefix>/job-<id>/...). */
  report: { bucket: string; prefix: string };
  priority: number;
  description: string;
}

/** Both cases of each suffix: the manifest generator's suffix match is case-sensitive. */
function suffixVariants(suffixes: readonly string[]): string[] {
  return [...new Set(suffixes.flatMap((s) => [s.toLowerCase(), s.toUpperCase()]))];
}

/** The CreateJob request of a backfill job. */
export function createJobInput(spec: BackfillJobSpec): CreateJobCommandInput {
  const { source } = spec;
  const where =
    source.kind === 'prefix'
      ? {
          ManifestGenerator: {
            S3JobManifestGenerator: {
              SourceBucket: `arn:aws:s3:::${source.bucket}`,
              EnableManifestOutput: false,
              Filter: {
                KeyNameConstraint: {
                  MatchAnyPrefix: [source.prefix],
                  ...(source.suffixes.length ? { MatchAnySuffix: suffixVariants(source.suffixes) } : {}),
                },
              },
            },
          },
        }
      : {
          Manifest: {
            Spec:
              source.format === 'csv'
                ? {
                    Format: 'S3BatchOperations_CSV_20180820' as const,
                    Fields: ['Bucket' as const, 'Key' as const],
                  }
                : { Format: 'S3InventoryReport_CSV_20161130' as const },
            Location: { ObjectArn: `arn:aws:s3:::${source.bucket}/${source.key}`, ETag: source.etag },
          },
        };
  return {
    AccountId: spec.accountId,
    ConfirmationRequired: false,
    Operation: { LambdaInvoke: { FunctionArn: spec.functionArn, InvocationSchemaVersion: '2.0' } },
    Report: {
      Enabled: true,
      Bucket: `arn:aws:s3:::${spec.report.bucket}`,
      Prefix: spec.report.prefix.replace(/\/+$/, ''),
      Format: 'Report_CSV_20180820',
      ReportScope: 'AllTasks',
    },
    Priority: spec.priority,
    RoleArn: spec.roleArn,
    Description: spec.description.slice(0, 256),
    ...where,
  };
}

/** The ETag of a manifest object (CreateJob names the manifest by ARN and ETag). */
export async function manifestEtag(s3: S3Client, bucket: string, key: string): Promise<string> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return (head.ETag ?? '').replace(/^"|"$/g, '');
  } catch (error) {
    throw new InvalidArgumentError(
      `Expected a manifest at s3://${bucket}/${key} but could not read it (${(error as Error).name})`,
      { cause: error },
    );
  }
}

export async function createJob(client: S3ControlClient, spec: BackfillJobSpec): Promise<string> {
  const out = await client.send(new CreateJobCommand(createJobInput(spec)));
  if (!out.JobId) throw new Error('S3 Batch Operations answered CreateJob without a JobId');
  return out.JobId;
}

export interface JobProgress {
  id: string;
  status: JobStatus | string;
  description: string;
  total: number;
  succeeded: number;
  failed: number;
  elapsedS: number;
  failureReasons: string[];
  report: { bucket: string; prefix: string } | undefined;
  terminal: boolean;
}

export async function describeJob(
  client: S3ControlClient,
  accountId: string,
  jobId: string,
): Promise<JobProgress> {
  const { Job: job } = await client.send(new DescribeJobCommand({ AccountId: accountId, JobId: jobId }));
  if (!job) throw new Error(`S3 Batch Operations answered DescribeJob ${jobId} without a job`);
  const p = job.ProgressSummary;
  const reportBucket = job.Report?.Bucket?.replace(/^arn:aws[a-z-]*:s3:::/, '');
  const status = job.Status ?? 'Unknown';
  return {
    id: job.JobId ?? jobId,
    status,
    description: job.Description ?? '',
    total: p?.TotalNumberOfTasks ?? 0,
    succeeded: p?.NumberOfTasksSucceeded ?? 0,
    failed: p?.NumberOfTasksFailed ?? 0,
    elapsedS: p?.Timers?.ElapsedTimeInActiveSeconds ?? 0,
    failureReasons: (job.FailureReasons ?? []).map((f) => `${f.FailureCode}: ${f.FailureReason}`),
    report:
      job.Report?.Enabled && reportBucket
        ? { bucket: reportBucket, prefix: job.Report.Prefix ?? '' }
        : undefined,
    terminal: TERMINAL_STATUSES.includes(status as JobStatus),
  };
}

/** Asks Batch Operations to stop the job: tasks in flight finish, no new ones start. */
export async function cancelJob(client: S3ControlClient, accountId: string, jobId: string): Promise<string> {
  const out = await client.send(
    new UpdateJobStatusCommand({
      AccountId: accountId,
      JobId: jobId,
      RequestedJobStatus: 'Cancelled',
      StatusUpdateReason: 'cancelled with mmlq-edge bucket cancel',
    }),
  );
  return out.Status ?? 'Cancelling';
}

/** Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** One row of a completion report (Report_CSV_20180820). */
export interface ReportRow {
  bucket: string;
  key: string;
  versionId: string;
  status: string;
  errorCode: string;
  httpStatus: string;
  message: string;
}

/**
 * Reads a job's completion report: its manifest.json (under <prefix>/job-<id>/) and every result CSV it
 * lists. Keys come URL-encoded as in manifests; they are decoded here. Undefined when there is no report
 * (yet): Batch Operations writes it when the job completes, fails or is cancelled.
 */
export async function readReport(
  s3: S3Client,
  report: { bucket: string; prefix: string },
  jobId: string,
): Promise<ReportRow[] | undefined> {
  const base = `${report.prefix ? `${report.prefix.replace(/\/+$/, '')}/` : ''}job-${jobId}`;
  const text = async (bucket: string, key: string): Promise<string | undefined> => {
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return await out.Body!.transformToString('utf8');
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey') return undefined;
      throw error;
    }
  };
  const manifest = await text(report.bucket, `${base}/manifest.json`);
  if (manifest === undefined) return undefined;
  const { Results = [] } = JSON.parse(manifest) as { Results?: { Bucket: string; Key: string }[] };
  const rows: ReportRow[] = [];
  for (const file of Results) {
    const csv = (await text(file.Bucket, file.Key)) ?? '';
    for (const [
      bucket = '',
      key = '',
      versionId = '',
      status = '',
      errorCode = '',
      httpStatus = '',
      message = '',
    ] of parseCsv(csv)) {
      if (!key) continue;
      rows.push({ bucket, key: decodeEventKey(key), versionId, status, errorCode, httpStatus, message });
    }
  }
  return rows;
}
