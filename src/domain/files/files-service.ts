/**
 * Shared files: presigned uploads and downloads, and the steps a file message
 * takes around being persisted.
 *
 * The life of a file:
 * 1. `createUpload`: a member asks to upload; name, type and size are checked and
 *    the storage quota is looked at (not reserved: an upload that is never sent must
 *    hold nothing). The answer is a presigned PUT to `pending/<chat>/<uploader>/<token>`
 *    that signs the exact size, the type and the name, valid for 5 minutes.
 * 2. `prepareFileMessage` (on `send` with that key): the object must exist under the
 *    sender's own pending key for this chat; its real size and type (HeadObject, not
 *    what the client says) must fit the policy; storage is reserved atomically; the
 *    object is copied to `files/...`, its permanent key, which the message stores.
 * 3. `commitFileMessage` once the message is persisted: the pending copy is deleted.
 *    `abortFileMessage` if persisting failed: the permanent copy is deleted and the
 *    storage given back.
 * Anything left under `pending/` (uploads never sent, a crash between steps) is
 * removed by the bucket's lifecycle rule, or locally by the pending sweeper.
 *
 * Copying before the message is persisted means a stored message never points at a
 * missing object. The same upload sent twice at the same moment is stored and
 * counted twice, never less than once.
 */
import { chatNotFound, invalid, notFound, type FileInfo } from '../../model/index.js';
import { mediaTypeOf } from '../../shared/files.js';
import type { Logger } from '../logger.js';
import type { BlobStore, PresignedUpload } from './ports.js';
import type { QuotasService } from '../quotas/quotas-service.js';
import { storageLimitReached, storageRoom } from '../quotas/quota-policy.js';
import {
  NAME_METADATA,
  attachmentDisposition,
  checkFileSize,
  checkFileType,
  cleanFileName,
  decodeNameFromMetadata,
  encodeNameForMetadata,
  fileKey,
  newFileToken,
  parseFileKey,
  type FilePolicy,
} from './file-policy.js';

export interface UploadRequest {
  name: string;
  type: string;
  size: number;
}

export interface UploadGrant {
  fileKey: string;
  upload: PresignedUpload;
  /** When the upload URL stops working, epoch milliseconds. */
  expiresAt: number;
}

export interface DownloadGrant {
  url: string;
  expiresAt: number;
}

export interface FilesService {
  createUpload(userId: string, chatId: string, file: UploadRequest): Promise<UploadGrant>;
  downloadUrl(userId: string, chatId: string, fileKey: string): Promise<DownloadGrant>;
  /**
   * For a `send` with fileKey: checks membership, that the key is the sender's own
   * upload to this chat, and that the object exists with a size and type the policy
   * allows (HeadObject); reserves storage; returns the FileInfo to store in the
   * message (its key is the permanent one). Throws AppErrors: not_found (chat or
   * object), invalid, too_large, quota_exceeded.
   */
  prepareFileMessage(userId: string, chatId: string, fileKey: string): Promise<FileInfo>;
  /** After the message holding `file` is persisted. Never throws. */
  commitFileMessage(file: FileInfo): Promise<void>;
  /** Persisting the message failed: gives back what prepare took. Never throws. */
  abortFileMessage(userId: string, file: FileInfo): Promise<void>;
}

export interface FilesServiceDeps {
  blob: BlobStore;
  quotas: Pick<QuotasService, 'summary' | 'reserveStorage' | 'releaseStorage'>;
  isMember: (chatId: string, userId: string) => Promise<boolean>;
  policy: FilePolicy;
  /** Epoch milliseconds. */
  clock: () => number;
  /** Where clean-up failures are reported (they never fail the caller). */
  logger?: Pick<Logger, 'warn'>;
}

/** S3 lets a presigned PUT live 7 days; we keep uploads to 5 minutes and downloads to 15. */
const MAX_UPLOAD_TTL_S = 300;
const MAX_DOWNLOAD_TTL_S = 900;

export function createFilesService(deps: FilesServiceDeps): FilesService {
  const { blob, quotas, isMember, policy, clock } = deps;
  const uploadTtlS = Math.min(policy.uploadTtlS, MAX_UPLOAD_TTL_S);
  const downloadTtlS = Math.min(policy.downloadTtlS, MAX_DOWNLOAD_TTL_S);

  async function requireMember(chatId: string, userId: string): Promise<void> {
    if (!(await isMember(chatId, userId))) throw chatNotFound();
  }

  function warn(err: unknown, msg: string, file: FileInfo): void {
    deps.logger?.warn({ err, fileKey: file.key }, msg);
  }

  return {
    async createUpload(userId, chatId, file) {
      const name = cleanFileName(file.name);
      const contentType = mediaTypeOf(file.type);
      checkFileSize(file.size, policy);
      checkFileType(contentType, policy);
      await requireMember(chatId, userId);
      // A look, not a reservation: the reservation happens at send, atomically.
      const quota = await quotas.summary(userId);
      if (file.size > storageRoom(quota)) throw storageLimitReached(quota, file.size);

      const key = fileKey({ stage: 'pending', chatId, uploaderId: userId, token: newFileToken() });
      const expiresAt = clock() + uploadTtlS * 1000;
      const upload = await blob.presignPut({
        key,
        contentType,
        contentLength: file.size,
        metadata: { [NAME_METADATA]: encodeNameForMetadata(name) },
        expiresInS: uploadTtlS,
      });
      return { fileKey: key, upload, expiresAt };
    },

    async downloadUrl(userId, chatId, key) {
      await requireMember(chatId, userId);
      const parts = parseFileKey(key);
      const noSuchFile = () => notFound('No such file in this chat');
      if (!parts || parts.stage !== 'files' || parts.chatId !== chatId) throw noSuchFile();
      const object = await blob.head(key);
      if (!object) throw noSuchFile();
      const name = decodeNameFromMetadata(object.metadata[NAME_METADATA]) ?? parts.token;
      const expiresAt = clock() + downloadTtlS * 1000;
      const url = await blob.presignGet({
        key,
        expiresInS: downloadTtlS,
        contentDisposition: attachmentDisposition(name),
        contentType: object.contentType ?? 'application/octet-stream',
      });
      return { url, expiresAt };
    },

    async prepareFileMessage(userId, chatId, key) {
      await requireMember(chatId, userId);
      const parts = parseFileKey(key);
      if (!parts || parts.stage !== 'pending' || parts.chatId !== chatId || parts.uploaderId !== userId) {
        throw invalid('fileKey is not one of your uploads to this chat: get one from POST /api/chats/:chatId/files');
      }
      const object = await blob.head(key);
      if (!object) throw notFound('Nothing was uploaded under this fileKey, or the upload was not sent in time: upload the file again');
      // What the store holds decides, not what the client declared.
      const contentType = mediaTypeOf(object.contentType ?? '');
      checkFileSize(object.size, policy);
      checkFileType(contentType, policy);
      const storedName = decodeNameFromMetadata(object.metadata[NAME_METADATA]);
      if (!storedName) throw invalid('The upload lacks its name: send the headers the upload URL came with');
      const name = cleanFileName(storedName);

      await quotas.reserveStorage(userId, object.size);
      const permanentKey = fileKey({ ...parts, stage: 'files' });
      try {
        await blob.copy(key, permanentKey);
      } catch (err) {
        await quotas
          .releaseStorage(userId, object.size)
          .catch((releaseErr: unknown) =>
            deps.logger?.warn({ err: releaseErr, fileKey: key }, 'could not give back storage after a failed copy'),
          );
        throw err;
      }
      return { key: permanentKey, name, size: object.size, contentType };
    },

    async commitFileMessage(file) {
      const parts = parseFileKey(file.key);
      if (!parts) return;
      try {
        await blob.delete(fileKey({ ...parts, stage: 'pending' }));
      } catch (err) {
        // Harmless: the lifecycle rule (or the local sweeper) removes it later.
        warn(err, 'could not delete a sent upload from pending', file);
      }
    },

    async abortFileMessage(userId, file) {
      try {
        await quotas.releaseStorage(userId, file.size);
      } catch (err) {
        warn(err, 'could not give back the storage of an unsent file', file);
      }
      try {
        await blob.delete(file.key);
      } catch (err) {
        warn(err, 'could not delete the copy of an unsent file', file);
      }
    },
  };
}
