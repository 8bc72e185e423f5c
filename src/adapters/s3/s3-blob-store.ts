/**
 * The S3 implementation of BlobStore: presigned PUT and GET, HeadObject,
 * CopyObject, DeleteObject, ListObjectsV2, HeadBucket. The S3Client comes from
 * `client.ts`, created with `requestChecksumCalculation: 'WHEN_REQUIRED'` so
 * presigned PUTs carry no checksum of an empty body (real S3 would reject them).
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NotFound,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { BlobStore, ListedObject, PresignedUpload, PresignGetInput, PresignPutInput, StoredObject } from '../../domain/files/ports.js';

const isMissing = (err: unknown) =>
  err instanceof NotFound || (err instanceof S3ServiceException && (err.$metadata.httpStatusCode === 404 || err.name === 'NoSuchKey'));

/** CopySource is "bucket/key" with the key URL-encoded segment by segment. */
const copySource = (bucket: string, key: string) => `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;

export function createS3BlobStore(s3: S3Client, bucket: string): BlobStore {
  return {
    async presignPut(input: PresignPutInput): Promise<PresignedUpload> {
      const metadataHeaders = Object.fromEntries(Object.entries(input.metadata).map(([name, value]) => [`x-amz-meta-${name}`, value]));
      const url = await getSignedUrl(
        s3,
        new PutObjectCommand({
          Bucket: bucket,
          Key: input.key,
          ContentType: input.contentType,
          ContentLength: input.contentLength,
          Metadata: input.metadata,
        }),
        {
          expiresIn: input.expiresInS,
          // Without these the presigner leaves Content-Type and Content-Length out of the
          // signature, and S3 would take a body of any size and type.
          signableHeaders: new Set(['content-type', 'content-length']),
          // Kept as headers (not moved into the query) so the signature binds what the
          // uploader actually sends.
          unhoistableHeaders: new Set(Object.keys(metadataHeaders)),
        },
      );
      return { method: 'PUT', url, headers: { 'Content-Type': input.contentType, ...metadataHeaders } };
    },

    async presignGet(input: PresignGetInput): Promise<string> {
      return getSignedUrl(
        s3,
        new GetObjectCommand({
          Bucket: bucket,
          Key: input.key,
          ResponseContentDisposition: input.contentDisposition,
          ResponseContentType: input.contentType,
        }),
        { expiresIn: input.expiresInS },
      );
    },

    async head(key: string): Promise<StoredObject | undefined> {
      try {
        const res = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return {
          key,
          size: res.ContentLength ?? 0,
          contentType: res.ContentType,
          metadata: res.Metadata ?? {},
          lastModified: res.LastModified?.getTime() ?? 0,
        };
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    },

    async copy(fromKey: string, toKey: string): Promise<void> {
      await s3.send(
        new CopyObjectCommand({ Bucket: bucket, Key: toKey, CopySource: copySource(bucket, fromKey), MetadataDirective: 'COPY' }),
      );
    },

    async delete(key: string): Promise<void> {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },

    async ping(): Promise<void> {
      await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    },

    async *list(prefix: string): AsyncIterable<ListedObject> {
      let continuationToken: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: continuationToken }));
        for (const object of page.Contents ?? []) {
          if (!object.Key) continue;
          yield { key: object.Key, size: object.Size ?? 0, lastModified: object.LastModified?.getTime() ?? 0 };
        }
        continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (continuationToken);
    },
  };
}
