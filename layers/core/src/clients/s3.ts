/**
 * S3 access for the edge and the scorer: one client per configuration, object reads with a byte limit,
 * JSON documents, and tag merges that keep tags written by others.
 */
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  paginateListObjectsV2,
  S3Client,
  S3ServiceException,
  type Tag,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { readLimited } from '../common/bytes.ts';
import { EdgeError, ImageError } from '../common/errors.ts';
import { requestHandler } from './aws.ts';
import type { S3Config } from './config.ts';

export interface ObjectRef {
  bucket: string;
  key: string;
  /** Object version (versioned buckets); absent otherwise. */
  versionId?: string | undefined;
}

export interface ObjectHead {
  etag: string;
  versionId: string | undefined;
  size: number;
  contentType: string | undefined;
  metadata: Record<string, string>;
}

/** One object of a listing. */
export interface ListedObject {
  key: string;
  etag: string;
  size: number;
  lastModified: Date | undefined;
}

export function createS3Client(
  config: S3Config,
  credentials?: { accessKeyId: string; secretAccessKey: string },
): S3Client {
  return new S3Client({
    ...(credentials ? { credentials } : {}),
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    // Checksums only where S3 requires them: local S3 servers store aws-chunked bodies verbatim otherwise.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    requestHandler: requestHandler(config.timeoutMs),
  });
}

/** S3's "no such key / version / bucket" (also when wrapped as the cause of our STORAGE_FAILED). */
export function isMissing(error: unknown): boolean {
  if (error instanceof EdgeError && error.cause !== undefined) return isMissing(error.cause);
  if (!(error instanceof S3ServiceException)) return false;
  return (
    ['NoSuchKey', 'NotFound', 'NoSuchVersion', 'NoSuchBucket'].includes(error.name) ||
    error.$metadata.httpStatusCode === 404
  );
}

function storageError(action: string, ref: ObjectRef, error: unknown): EdgeError {
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new EdgeError('STORAGE_FAILED', `Could not ${action} s3://${ref.bucket}/${ref.key} (${what})`, {
    cause: error,
  });
}

export const stripQuotes = (etag: string | undefined): string => (etag ?? '').replace(/^"|"$/g, '');

export class ObjectStore {
  constructor(readonly client: S3Client) {}

  /**
   * A URL that lets its holder PUT one object at `ref` with this Content-Type for `expiresInS` seconds
   * (signed locally with the function's own credentials: no call to S3).
   */
  presignPut(ref: ObjectRef, contentType: string, expiresInS: number): Promise<string> {
    return getSignedUrl(
      this.client,
      new PutObjectCommand({ Bucket: ref.bucket, Key: ref.key, ContentType: contentType }),
      { expiresIn: expiresInS, signableHeaders: new Set(['content-type']) },
    );
  }

  /** Head of an object, or undefined when it does not exist. */
  async head(ref: ObjectRef): Promise<ObjectHead | undefined> {
    try {
      const out = await this.client.send(
        new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId }),
      );
      return {
        etag: stripQuotes(out.ETag),
        versionId: out.VersionId,
        size: out.ContentLength ?? 0,
        contentType: out.ContentType,
        metadata: out.Metadata ?? {},
      };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw storageError('read the head of', ref, error);
    }
  }

  /** Reads an image, refusing more than maxBytes (checked on the declared length, then while reading). */
  async getImage(ref: ObjectRef, maxBytes: number): Promise<{ bytes: Buffer; etag: string }> {
    let out: GetObjectCommandOutput;
    try {
      out = await this.client.send(
        new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId }),
      );
    } catch (error) {
      if (isMissing(error)) {
        throw new ImageError(
          'IMAGE_NOT_FOUND',
          `Expected an object at s3://${ref.bucket}/${ref.key}${ref.versionId ? ` (version ${ref.versionId})` : ''} but it does not exist`,
        );
      }
      throw storageError('read', ref, error);
    }
    if ((out.ContentLength ?? 0) > maxBytes) {
      (out.Body as unknown as { destroy?: () => void } | undefined)?.destroy?.();
      throw new ImageError(
        'IMAGE_TOO_MANY_BYTES',
        `Expected an image of at most ${maxBytes} bytes but received ${out.ContentLength} bytes`,
      );
    }
    let bytes: Buffer;
    try {
      bytes = await readLimited(
        (out.Body as AsyncIterable<Uint8Array> | undefined) ?? [],
        maxBytes,
        (received) =>
          new ImageError(
            'IMAGE_TOO_MANY_BYTES',
            `Expected an image of at most ${maxBytes} bytes but received ${received} bytes`,
          ),
      );
    } catch (error) {
      // A body that stalls (socket timeout) or breaks off is a storage failure, worth a retry.
      if (error instanceof ImageError) throw error;
      throw storageError('read', ref, error);
    }
    return { bytes, etag: stripQuotes(out.ETag) };
  }

  /** A whole object's bytes, or undefined when it does not exist (for small documents of ours). */
  async getBytes(ref: ObjectRef): Promise<Buffer | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw storageError('read', ref, error);
    }
  }

  async getJson<T>(ref: ObjectRef): Promise<T | undefined> {
    const bytes = await this.getBytes(ref);
    if (bytes === undefined) return undefined;
    try {
      return JSON.parse(bytes.toString('utf8') || 'null') as T;
    } catch (error) {
      throw storageError('read', ref, error);
    }
  }

  async put(
    ref: ObjectRef,
    body: Buffer | string,
    contentType: string,
    metadata: Record<string, string> = {},
  ): Promise<void> {
    await this.write(ref, body, contentType, metadata, {});
  }

  async putJson(ref: ObjectRef, document: unknown, metadata: Record<string, string> = {}): Promise<void> {
    await this.put(ref, `${JSON.stringify(document, null, 2)}\n`, 'application/json', metadata);
  }

  /**
   * Writes a JSON document only if the object is still as the caller saw it: absent (`etag`
   * undefined: If-None-Match *) or at that ETag (If-Match). False when another writer came first
   * (S3 answers 412, or 409 for a concurrent conditional write), so at most one of concurrent writers
   * of the same version wins.
   */
  putJsonIf(
    ref: ObjectRef,
    document: unknown,
    metadata: Record<string, string>,
    expected: { etag: string | undefined },
  ): Promise<boolean> {
    return this.write(
      ref,
      `${JSON.stringify(document, null, 2)}\n`,
      'application/json',
      metadata,
      expected.etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: `"${expected.etag}"` },
    );
  }

  /** PutObject; false only when a condition was given and another writer came first. */
  private async write(
    ref: ObjectRef,
    body: Buffer | string,
    contentType: string,
    metadata: Record<string, string>,
    condition: { IfNoneMatch?: string; IfMatch?: string },
  ): Promise<boolean> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          Body: body,
          ContentType: contentType,
          Metadata: metadata,
          ...condition,
        }),
      );
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (Object.keys(condition).length && (status === 412 || status === 409)) return false;
      throw storageError('write', ref, error);
    }
  }

  /** Every object under `prefix`, in key order, a page (up to 1,000) at a time. */
  async *list(bucket: string, prefix: string): AsyncGenerator<ListedObject[]> {
    try {
      for await (const page of paginateListObjectsV2(
        { client: this.client },
        { Bucket: bucket, Prefix: prefix },
      )) {
        yield (page.Contents ?? []).map((o) => ({
          key: o.Key ?? '',
          etag: stripQuotes(o.ETag),
          size: o.Size ?? 0,
          lastModified: o.LastModified,
        }));
      }
    } catch (error) {
      throw storageError('list', { bucket, key: prefix }, error);
    }
  }

  async getTags(ref: ObjectRef): Promise<Record<string, string>> {
    try {
      const out = await this.client.send(
        new GetObjectTaggingCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId }),
      );
      return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
    } catch (error) {
      throw storageError('read the tags of', ref, error);
    }
  }

  /**
   * Sets `tags` on the object, keeping its other tags (S3 replaces the whole set on write). Tags whose
   * names start with `replacePrefix` and are not in `tags` are removed (a stale error tag, say).
   */
  async mergeTags(ref: ObjectRef, tags: Record<string, string>, replacePrefix: string): Promise<void> {
    const current = await this.getTags(ref);
    const kept = Object.entries(current).filter(([k]) => !k.startsWith(replacePrefix) && !(k in tags));
    const TagSet: Tag[] = [...kept, ...Object.entries(tags)].map(([Key, Value]) => ({ Key, Value }));
    if (TagSet.length > 10) {
      throw new EdgeError(
        'STORAGE_FAILED',
        `Could not tag s3://${ref.bucket}/${ref.key}: S3 allows 10 tags per object and it would have ${TagSet.length}`,
      );
    }
    try {
      await this.client.send(
        new PutObjectTaggingCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          VersionId: ref.versionId,
          Tagging: { TagSet },
        }),
      );
    } catch (error) {
      throw storageError('tag', ref, error);
    }
  }
}
