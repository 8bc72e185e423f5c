/**
 * Object storage for shared files, as the files service sees it. Implementation:
 * S3 (`adapters/s3/s3-blob-store.ts`), also used against the local S3 emulator.
 *
 * Contract:
 * - Presigned URLs are computed locally from the credentials in hand; issuing one
 *   touches no network. A presigned PUT binds the key, the exact Content-Length,
 *   the Content-Type and every `metadata` header (sent as `x-amz-meta-<name>`) into
 *   its signature: the store rejects an upload that differs in any of them. (The
 *   local emulator checks no signature; real S3 does.)
 * - `head` answers `undefined` for a missing object and throws for anything else.
 * - `copy` keeps the object's content type and metadata. `delete` of a missing
 *   object succeeds.
 */
export interface PresignedUpload {
  method: 'PUT';
  url: string;
  /** Headers the uploader must send exactly as given (the body's length is signed too). */
  headers: Record<string, string>;
}

export interface PresignPutInput {
  key: string;
  contentType: string;
  contentLength: number;
  /** User metadata, ASCII only (names lower case, no `x-amz-meta-` prefix). */
  metadata: Record<string, string>;
  expiresInS: number;
}

export interface PresignGetInput {
  key: string;
  expiresInS: number;
  /** Value of the Content-Disposition header the download is served with. */
  contentDisposition: string;
  /** Content-Type the download is served with. */
  contentType: string;
}

export interface StoredObject {
  key: string;
  size: number;
  contentType: string | undefined;
  metadata: Record<string, string>;
  /** Epoch milliseconds. */
  lastModified: number;
}

export interface ListedObject {
  key: string;
  size: number;
  lastModified: number;
}

export interface BlobStore {
  presignPut(input: PresignPutInput): Promise<PresignedUpload>;
  presignGet(input: PresignGetInput): Promise<string>;
  head(key: string): Promise<StoredObject | undefined>;
  copy(fromKey: string, toKey: string): Promise<void>;
  delete(key: string): Promise<void>;
  /** Every object under `prefix`, page by page. */
  list(prefix: string): AsyncIterable<ListedObject>;
  /** Resolves when the bucket answers (readiness probe). */
  ping(): Promise<void>;
}
