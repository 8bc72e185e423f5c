/** File rules the page checks before an upload and the server enforces: types and sizes. */

/** 'Image/PNG; charset=x' -> 'image/png': what is compared with the allow-list and signed. */
export function mediaTypeOf(type: string): string {
  return (type.split(';')[0] ?? '').trim().toLowerCase();
}

/** Media types allowed (`image/png`), or whole families (`image/*`). */
export function isAllowedType(mediaType: string, allowedTypes: readonly string[]): boolean {
  return allowedTypes.some((allowed) => {
    const a = allowed.trim().toLowerCase();
    return a.endsWith('/*') ? mediaType.startsWith(a.slice(0, -1)) && mediaType.length > a.length - 1 : a === mediaType;
  });
}

const MIB = 1024 * 1024;

/** "1.5 MB", "300 KB", "12 bytes": sizes in messages people read. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * MIB) return `${+(bytes / (1024 * MIB)).toFixed(2)} GB`;
  if (bytes >= MIB) return `${+(bytes / MIB).toFixed(2)} MB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} bytes`;
}
