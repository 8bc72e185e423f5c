/**
 * Whether a file may be uploaded, by the same rules the server enforces
 * (src/shared/files.ts) and the limits it announced in `hello`: a refusal the
 * reader sees before any bytes leave, shown on the file's message ("Not sent: …").
 */
import { formatBytes, isAllowedType, mediaTypeOf } from '../shared/files.js';
import type { ClientLimits } from './wire.js';

export function fileRefusal(file: { name: string; type: string; size: number }, limits: ClientLimits | null): string | null {
  if (!limits) return null;
  const mediaType = mediaTypeOf(file.type || 'application/octet-stream');
  if (!isAllowedType(mediaType, limits.fileTypes)) return `Files of type ${mediaType} are not accepted.`;
  if (file.size > limits.fileMaxBytes)
    return `The file is ${formatBytes(file.size)}, more than the ${formatBytes(limits.fileMaxBytes)} allowed.`;
  if (file.size === 0) return 'The file is empty.';
  return null;
}
