/** The S3 Batch Operations job the CLI asks for, and how it reads a completion report (pure parts). */
import { describe, expect, it } from 'vitest';
import { summarise } from '#core/cli/bucket.ts';
import { createJobInput, parseCsv, parseS3Uri } from '#core/clients/batch-operations.ts';

const base = {
  accountId: '123456789012',
  functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:mmlq-edge-prod-backfill',
  roleArn: 'arn:aws:iam::123456789012:role/batch',
  report: { bucket: 'media', prefix: 'backfill/reports/' },
  priority: 10,
  description: 'backfill',
};

describe('createJobInput', () => {
  it('asks Batch Operations to list the prefix itself, images of either case, and report every task', () => {
    const input = createJobInput({
      ...base,
      source: { kind: 'prefix', bucket: 'media', prefix: 'uploads/', suffixes: ['.jpg', '.png'] },
    });
    expect(input).toMatchObject({
      AccountId: '123456789012',
      ConfirmationRequired: false,
      Operation: { LambdaInvoke: { FunctionArn: base.functionArn, InvocationSchemaVersion: '2.0' } },
      Report: {
        Enabled: true,
        Bucket: 'arn:aws:s3:::media',
        Prefix: 'backfill/reports',
        Format: 'Report_CSV_20180820',
        ReportScope: 'AllTasks',
      },
      ManifestGenerator: {
        S3JobManifestGenerator: {
          SourceBucket: 'arn:aws:s3:::media',
          EnableManifestOutput: false,
          Filter: {
            KeyNameConstraint: {
              MatchAnyPrefix: ['uploads/'],
              MatchAnySuffix: ['.jpg', '.JPG', '.png', '.PNG'],
            },
          },
        },
      },
    });
    expect(input.Manifest).toBeUndefined();
  });

  it('names a CSV or an S3 Inventory manifest by ARN and ETag', () => {
    const csv = createJobInput({
      ...base,
      source: { kind: 'manifest', bucket: 'media', key: 'backfill/m.csv', etag: 'abc', format: 'csv' },
    });
    expect(csv.Manifest).toEqual({
      Spec: { Format: 'S3BatchOperations_CSV_20180820', Fields: ['Bucket', 'Key'] },
      Location: { ObjectArn: 'arn:aws:s3:::media/backfill/m.csv', ETag: 'abc' },
    });
    const inventory = createJobInput({
      ...base,
      source: {
        kind: 'manifest',
        bucket: 'media',
        key: 'backfill/inv/manifest.json',
        etag: 'e',
        format: 'inventory',
      },
    });
    expect(inventory.Manifest!.Spec).toEqual({ Format: 'S3InventoryReport_CSV_20161130' });
    expect(inventory.ManifestGenerator).toBeUndefined();
  });
});

describe('completion reports', () => {
  it('parses quoted CSV fields with commas, quotes and line breaks', () => {
    expect(parseCsv('a,"b,c","say ""hi""",\r\nx,"multi\nline",y,z\n')).toEqual([
      ['a', 'b,c', 'say "hi"', ''],
      ['x', 'multi\nline', 'y', 'z'],
    ]);
  });

  it('counts scored, already scored and failed tasks, with the reason of each failure', () => {
    const row = (key: string, status: string, message: string, errorCode = '') => ({
      bucket: 'media',
      key,
      versionId: '',
      status,
      errorCode,
      httpStatus: '200',
      message,
    });
    expect(
      summarise([
        row('a.jpg', 'succeeded', 'scored 6.5 good'),
        row('b.jpg', 'succeeded', 'duplicate: already scored for this version and model'),
        row('c.jpg', 'failed', 'IMAGE_CORRUPT: truncated', 'PermanentFailure'),
      ]),
    ).toEqual({
      scored: 1,
      duplicate: 1,
      other: 0,
      failed: 1,
      failures: [{ key: 'c.jpg', reason: 'PermanentFailure: IMAGE_CORRUPT: truncated' }],
    });
  });

  it('refuses a manifest that is not an s3:// URI, saying what it expected', () => {
    expect(parseS3Uri('s3://media/backfill/m.csv')).toEqual({ bucket: 'media', key: 'backfill/m.csv' });
    expect(() => parseS3Uri('https://media/x.csv')).toThrow(
      'Expected an S3 URI like s3://bucket/key but received "https://media/x.csv"',
    );
  });
});
