/**
 * The HTTP side of the service, as the page uses it. Same origin, so the session
 * cookie goes along by itself. State-changing calls send JSON (never a form), so
 * the server can refuse anything else. Every failure becomes an `ApiError` carrying
 * the server's `{ error: { code, message } }`, so the page can show the message as is.
 */
import type { ChatSummary, PublicUser, QuotaSummary } from './wire.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface ErrorBody {
  error?: { code?: string; message?: string; details?: Record<string, unknown> };
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached; check your connection.');
  }
  if (response.status === 204) return undefined as T;
  const payload = (await response.json().catch(() => undefined)) as unknown;
  if (!response.ok) {
    const error = (payload as ErrorBody | undefined)?.error;
    throw new ApiError(response.status, error?.code ?? 'http', error?.message ?? `The server answered ${response.status}.`, error?.details);
  }
  return payload as T;
}

const chatPath = (chatId: string) => `/api/chats/${encodeURIComponent(chatId)}`;

export interface PresignedUpload {
  fileKey: string;
  upload: { method?: string; url: string; headers?: Record<string, string> };
  expiresAt: string | number;
}

export interface DownloadUrl {
  url: string;
  expiresAt: string | number;
}

export const api = {
  /** `{ user, quota? }`, or an ApiError with status 401 when signed out. */
  me: () => request<{ user: PublicUser; quota?: QuotaSummary }>('GET', '/api/me'),
  chats: () => request<{ chats: ChatSummary[] }>('GET', '/api/chats').then((body) => body.chats),
  startDirect: (username: string) => request<{ chat: ChatSummary }>('POST', '/api/chats/direct', { username }).then((body) => body.chat),
  createGroup: (title: string, members: string[]) =>
    request<{ chat: ChatSummary }>('POST', '/api/chats/group', { title, members }).then((body) => body.chat),
  addMember: (chatId: string, username: string) =>
    request<{ chat: ChatSummary }>('POST', `${chatPath(chatId)}/members`, { username }).then((body) => body.chat),
  removeMember: (chatId: string, userId: string) =>
    request<{ chat: ChatSummary }>('DELETE', `${chatPath(chatId)}/members/${encodeURIComponent(userId)}`).then((body) => body.chat),
  leave: (chatId: string) => request<unknown>('POST', `${chatPath(chatId)}/leave`, {}),
  /** Ends the session; answers where the browser goes next (the identity provider's sign-out, or the page). */
  signOut: () => request<{ redirectTo?: string } | undefined>('POST', '/logout', {}),
  requestUpload: (chatId: string, file: { name: string; type: string; size: number }) =>
    request<PresignedUpload>('POST', `${chatPath(chatId)}/files`, { name: file.name, type: file.type, size: file.size }),
  downloadUrl: (chatId: string, fileKey: string) =>
    request<DownloadUrl>('GET', `${chatPath(chatId)}/files/download?key=${encodeURIComponent(fileKey)}`),
};

/** How far an upload got; `cancel` aborts it. */
export interface UploadHandle {
  done: Promise<void>;
  cancel(): void;
}

/**
 * Sends the bytes to the presigned URL, exactly with the headers it was signed for.
 * XMLHttpRequest rather than fetch: it reports upload progress.
 */
export function uploadBytes(
  upload: PresignedUpload['upload'],
  file: Blob,
  onProgress: (fraction: number) => void = () => {},
): UploadHandle {
  const xhr = new XMLHttpRequest();
  const done = new Promise<void>((resolve, reject) => {
    xhr.open(upload.method ?? 'PUT', upload.url);
    for (const [name, value] of Object.entries(upload.headers ?? {})) {
      // The browser sets these itself and refuses to be told.
      if (!/^(content-length|host)$/i.test(name)) xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () =>
      xhr.status >= 200 && xhr.status < 300
        ? resolve()
        : reject(new ApiError(xhr.status, 'upload_failed', `The file store refused the upload (${xhr.status}).`));
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload could not reach the file store.'));
    xhr.onabort = () => reject(new ApiError(0, 'cancelled', 'Upload cancelled.'));
    xhr.send(file);
  });
  return { done, cancel: () => xhr.abort() };
}

/**
 * Presigned download URLs, one per file, fetched again once expired (with a
 * margin, so an image does not start loading on a URL about to die).
 */
export function createDownloadUrls({
  fetchUrl = api.downloadUrl,
  now = Date.now,
  marginMs = 30_000,
}: { fetchUrl?: (chatId: string, fileKey: string) => Promise<DownloadUrl>; now?: () => number; marginMs?: number } = {}) {
  const cache = new Map<string, { url: string; expiresAt: number }>();
  return {
    async get(chatId: string, fileKey: string): Promise<string> {
      const cached = cache.get(fileKey);
      if (cached && cached.expiresAt - marginMs > now()) return cached.url;
      cache.delete(fileKey);
      const { url, expiresAt } = await fetchUrl(chatId, fileKey);
      const expiry = typeof expiresAt === 'number' ? expiresAt : Date.parse(expiresAt);
      cache.set(fileKey, { url, expiresAt: Number.isFinite(expiry) ? expiry : now() + 60_000 });
      return url;
    },
    forget(fileKey: string): void {
      cache.delete(fileKey);
    },
  };
}
