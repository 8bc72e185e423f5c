/**
 * The HTTP side of the service, as the page uses it. Same origin, so the session
 * cookie goes along by itself. Every failure becomes an `ApiError` carrying the
 * server's `{ error: { code, message } }`, so the page can show the message as is.
 */

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached; check your connection.');
  }
  if (response.status === 204) return undefined;
  const payload = await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = payload?.error;
    throw new ApiError(response.status, error?.code ?? 'http', error?.message ?? `The server answered ${response.status}.`, error?.details);
  }
  return payload;
}

const chatPath = (chatId) => `/api/chats/${encodeURIComponent(chatId)}`;

export const api = {
  /** `{ user, quota? }`, or an ApiError with status 401 when signed out. */
  me: () => request('GET', '/api/me'),
  chats: () => request('GET', '/api/chats').then((body) => body.chats),
  startDirect: (username) => request('POST', '/api/chats/direct', { username }).then((body) => body.chat),
  createGroup: (title, members) => request('POST', '/api/chats/group', { title, members }).then((body) => body.chat),
  addMember: (chatId, username) => request('POST', `${chatPath(chatId)}/members`, { username }).then((body) => body.chat),
  removeMember: (chatId, userId) =>
    request('DELETE', `${chatPath(chatId)}/members/${encodeURIComponent(userId)}`).then((body) => body.chat),
  leave: (chatId) => request('POST', `${chatPath(chatId)}/leave`),
  /** `{ fileKey, upload: { method, url, headers }, expiresAt }` */
  requestUpload: (chatId, file) => request('POST', `${chatPath(chatId)}/files`, { name: file.name, type: file.type, size: file.size }),
  /** `{ url, expiresAt }` */
  downloadUrl: (chatId, fileKey) => request('GET', `${chatPath(chatId)}/files/download?key=${encodeURIComponent(fileKey)}`),
};

/** Sends the bytes to the presigned URL, exactly with the headers it was signed for. */
export async function uploadBytes(upload, file) {
  let response;
  try {
    response = await fetch(upload.url, { method: upload.method ?? 'PUT', headers: upload.headers ?? {}, body: file });
  } catch {
    throw new ApiError(0, 'network', 'The upload could not reach the file store.');
  }
  if (!response.ok) throw new ApiError(response.status, 'upload_failed', `The file store refused the upload (${response.status}).`);
}

/**
 * Presigned download URLs, one per file, fetched again once expired (with a
 * margin, so an image does not start loading on a URL about to die).
 */
export function createDownloadUrls({ fetchUrl = api.downloadUrl, now = Date.now, marginMs = 30_000 } = {}) {
  const cache = new Map();
  return {
    async get(chatId, fileKey) {
      const cached = cache.get(fileKey);
      if (cached && cached.expiresAt - marginMs > now()) return cached.url;
      const pending = fetchUrl(chatId, fileKey).then(({ url, expiresAt }) => {
        const expiry = typeof expiresAt === 'number' ? expiresAt : Date.parse(expiresAt);
        cache.set(fileKey, { url, expiresAt: Number.isFinite(expiry) ? expiry : now() + 60_000 });
        return url;
      });
      cache.delete(fileKey);
      return pending;
    },
    forget(fileKey) {
      cache.delete(fileKey);
    },
  };
}
