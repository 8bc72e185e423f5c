/**
 * The file rules as pure functions: what may be uploaded, how object keys are laid
 * out, and how the original name travels (object metadata in, Content-Disposition
 * out). No I/O here.
 *
 * Key layout (the server makes every key; no part comes from the file's name):
 *   pending/<chatId>/<uploaderId>/<token>   where the presigned PUT writes
 *   files/<chatId>/<uploaderId>/<token>     where the file lives once a message holds it
 * The chat in the key is what download authorization checks; the uploader in the key
 * is what lets `send` accept only the sender's own uploads; the 128-bit random token
 * makes keys unguessable. `pending/` is what the lifecycle rule and the local sweeper
 * clear, so an upload that is never sent goes away by itself.
 */
import { randomBytes } from 'node:crypto';
import { AppError, invalid } from '../../model/index.js';
import { formatBytes, isAllowedType } from '../../shared/files.js';
import { stripUnsafeCharacters } from '../../shared/text.js';

export interface FilePolicy {
  /** Largest upload, in bytes. */
  maxBytes: number;
  /** Media types allowed (`image/png`), or whole families (`image/*`). */
  allowedTypes: readonly string[];
  /** Lifetime of a presigned upload, in seconds (at most 300). */
  uploadTtlS: number;
  /** Lifetime of a presigned download, in seconds (at most 900). */
  downloadTtlS: number;
}

export const PENDING_PREFIX = 'pending/';
export const FILES_PREFIX = 'files/';
export const MAX_NAME_LENGTH = 255;
/** Metadata entry (header `x-amz-meta-name`) holding the original name, percent-encoded. */
export const NAME_METADATA = 'name';

const SEGMENT = /^(?!\.+$)[A-Za-z0-9_.:-]{1,128}$/;
const TOKEN = /^[A-Za-z0-9_-]{22}$/;

export type FileKeyStage = 'pending' | 'files';

export interface FileKeyParts {
  stage: FileKeyStage;
  chatId: string;
  uploaderId: string;
  token: string;
}

export function newFileToken(): string {
  return randomBytes(16).toString('base64url');
}

export function fileKey(parts: FileKeyParts): string {
  if (!SEGMENT.test(parts.chatId) || !SEGMENT.test(parts.uploaderId) || !TOKEN.test(parts.token)) {
    // Chat ids and user ids are ours and always fit; this guards the layout, not user input.
    throw new Error('file key parts do not fit the key layout');
  }
  return `${parts.stage}/${parts.chatId}/${parts.uploaderId}/${parts.token}`;
}

/** The parts of a key in our layout, or undefined for anything else. */
export function parseFileKey(key: string): FileKeyParts | undefined {
  const segments = key.split('/');
  if (segments.length !== 4) return undefined;
  const [stage, chatId, uploaderId, token] = segments as [string, string, string, string];
  if (stage !== 'pending' && stage !== 'files') return undefined;
  if (!SEGMENT.test(chatId) || !SEGMENT.test(uploaderId) || !TOKEN.test(token)) return undefined;
  return { stage, chatId, uploaderId, token };
}

/**
 * A name fit to show and to put in a header: the last path segment (browsers on
 * some systems send `C:\fakepath\x.png`), no control or invisible formatting
 * characters (a right-to-left override can make `x.exe` look like `x.png`), trimmed.
 */
export function cleanFileName(name: string): string {
  const lastSegment = name.split(/[\\/]/).pop() ?? '';
  const clean = stripUnsafeCharacters(lastSegment);
  if (clean === '' || clean === '.' || clean === '..') throw invalid('The file needs a name');
  if (clean.length > MAX_NAME_LENGTH) throw invalid(`File names are at most ${MAX_NAME_LENGTH} characters`);
  return clean;
}

export function checkFileSize(size: number, policy: Pick<FilePolicy, 'maxBytes'>): void {
  if (!Number.isSafeInteger(size) || size < 1) throw invalid('The file is empty');
  if (size > policy.maxBytes) {
    throw new AppError('too_large', `Files may be at most ${formatBytes(policy.maxBytes)}; this one is ${formatBytes(size)}`, {
      limit: policy.maxBytes,
      size,
    });
  }
}

export function checkFileType(mediaType: string, policy: Pick<FilePolicy, 'allowedTypes'>): void {
  if (!isAllowedType(mediaType, policy.allowedTypes)) {
    throw invalid(`Files of type "${mediaType || 'unknown'}" cannot be shared; allowed: ${policy.allowedTypes.join(', ')}`, {
      allowedTypes: [...policy.allowedTypes],
    });
  }
}

/** S3 metadata must be ASCII: the name travels percent-encoded (UTF-8). */
export function encodeNameForMetadata(name: string): string {
  return encodeURIComponent(name);
}

export function decodeNameFromMetadata(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** RFC 5987 `value-chars`: percent-encode everything outside attr-char. */
function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * `attachment` with the original name, per RFC 6266: an ASCII `filename` for old
 * clients (anything else replaced by `_`) and `filename*` in UTF-8 for the rest.
 */
export function attachmentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const plain = `attachment; filename="${fallback}"`;
  return fallback === name ? plain : `${plain}; filename*=UTF-8''${encodeRfc5987(name)}`;
}
