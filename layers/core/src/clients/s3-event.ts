/**
 * S3 event notifications. Real S3 URL-encodes object keys in events ("red flower.jpg" arrives as
 * "red+flower.jpg"); this is the one place that decodes them. The local bridge encodes keys the same
 * way before delivery, so handlers see what AWS would send.
 */
import type { S3Event, S3EventRecord } from 'aws-lambda';
import { InvalidArgumentError } from '../common/errors.ts';
import type { ObjectRef } from './s3.ts';

export interface UploadedObject extends ObjectRef {
  etag: string;
  size: number;
  eventName: string;
  eventTime: string;
}

/** Decodes a key as S3 writes it into event notifications. */
export function decodeEventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/** Encodes a key the way S3 writes it into event notifications (inverse of decodeEventKey). */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

/** The created objects of an S3 event; other event kinds (removals, tests) are left out. */
export function createdObjects(event: unknown): UploadedObject[] {
  const records = (event as Partial<S3Event> | null)?.Records;
  if (!Array.isArray(records)) {
    throw new InvalidArgumentError('Expected an S3 event with a Records array but received something else');
  }
  return records
    .filter((r: S3EventRecord) => r.eventSource === 'aws:s3' && r.eventName?.startsWith('ObjectCreated:'))
    .map((r: S3EventRecord) => ({
      bucket: r.s3.bucket.name,
      key: decodeEventKey(r.s3.object.key),
      versionId: r.s3.object.versionId || undefined,
      etag: (r.s3.object.eTag ?? '').replace(/^"|"$/g, ''),
      size: r.s3.object.size ?? 0,
      eventName: r.eventName,
      eventTime: r.eventTime,
    }));
}
