/**
 * Signs in over real HTTP exactly as a browser does: GET /login, follow the
 * redirects to the local identity provider, submit its login form, follow back to
 * /authorize, and keep the session cookie. Cookies are kept per host and port (a
 * stricter jar than a browser's, which ignores ports), so two app instances on one
 * machine never see each other's cookies.
 *
 *   const alice = await signIn(instance.baseUrl, 'alice');
 *   await fetch(`${instance.baseUrl}/api/me`, { headers: { cookie: alice.cookie } });
 */
import { localUserId } from '../../src/local/identity-provider.js';

interface StoredCookie {
  value: string;
  path: string;
}

/** A minimal cookie jar: per host:port, path-prefix matching, deletion by Max-Age/Expires. */
export class CookieJar {
  private readonly byHost = new Map<string, Map<string, StoredCookie>>();

  /** Records the response's Set-Cookie headers for the URL it answered. */
  store(url: URL, res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = false;
      for (const attribute of attributes) {
        const [key = '', ...rest] = attribute.split('=');
        const attrValue = rest.join('=');
        switch (key.toLowerCase()) {
          case 'path':
            path = attrValue || '/';
            break;
          case 'max-age':
            if (Number(attrValue) <= 0) expired = true;
            break;
          case 'expires':
            if (Date.parse(attrValue) <= Date.now()) expired = true;
            break;
        }
      }
      const cookies = this.byHost.get(url.host) ?? new Map<string, StoredCookie>();
      this.byHost.set(url.host, cookies);
      if (expired) cookies.delete(name);
      else cookies.set(name, { value, path });
    }
  }

  /** The Cookie header a browser would send to `url`, or undefined when there is none. */
  header(url: URL): string | undefined {
    const cookies = [...(this.byHost.get(url.host) ?? [])].filter(([, c]) => pathMatches(url.pathname, c.path));
    return cookies.length > 0 ? cookies.map(([name, c]) => `${name}=${c.value}`).join('; ') : undefined;
  }

  get(url: URL, name: string): string | undefined {
    return this.byHost.get(url.host)?.get(name)?.value;
  }

  set(url: URL, name: string, value: string, path = '/'): void {
    const cookies = this.byHost.get(url.host) ?? new Map<string, StoredCookie>();
    this.byHost.set(url.host, cookies);
    cookies.set(name, { value, path });
  }

  delete(url: URL, name: string): void {
    this.byHost.get(url.host)?.delete(name);
  }
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

export interface BrowserRequest {
  method?: 'GET' | 'POST';
  form?: Record<string, string>;
  /** A JSON body, as the page's fetch sends. */
  json?: unknown;
  accept?: string;
}

/** One request with the jar's cookies, no redirect following; records Set-Cookie; reads the body. */
export async function browserFetch(jar: CookieJar, url: URL, request: BrowserRequest = {}): Promise<{ res: Response; body: string }> {
  const headers: Record<string, string> = { accept: request.accept ?? 'text/html,application/xhtml+xml,*/*;q=0.8' };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  if (request.form) headers['content-type'] = 'application/x-www-form-urlencoded';
  if (request.json !== undefined) headers['content-type'] = 'application/json';
  // As a browser does: every POST names the page's origin.
  if (request.method === 'POST') headers.origin = url.origin;
  const res = await fetch(url, {
    method: request.method ?? 'GET',
    headers,
    redirect: 'manual',
    ...(request.form ? { body: new URLSearchParams(request.form).toString() } : {}),
    ...(request.json !== undefined ? { body: JSON.stringify(request.json) } : {}),
  });
  jar.store(url, res);
  return { res, body: await res.text() };
}

const isRedirect = (status: number) => status >= 300 && status < 400;

export interface ReachedCallback {
  jar: CookieJar;
  /** The app's /authorize URL the provider sent the browser to, not yet requested. */
  callbackUrl: URL;
}

/**
 * Drives the flow from GET /login up to (not including) the callback: what a test
 * needs to replay or tamper with the callback. `next` is passed to /login.
 */
export async function reachCallback(
  baseUrl: string,
  username: string,
  options: { jar?: CookieJar; next?: string } = {},
): Promise<ReachedCallback> {
  const jar = options.jar ?? new CookieJar();
  const app = new URL(baseUrl);
  let url = new URL('/login', app);
  if (options.next !== undefined) url.searchParams.set('next', options.next);
  let step = await browserFetch(jar, url);
  for (let hop = 0; hop < 12; hop++) {
    const { res, body } = step;
    if (isRedirect(res.status)) {
      const next = new URL(res.headers.get('location') ?? '', url);
      if (next.host === app.host && next.pathname === '/authorize') return { jar, callbackUrl: next };
      url = next;
      step = await browserFetch(jar, url);
      continue;
    }
    const action = res.status === 200 ? /<form[^>]*action="([^"]*\/login)"/.exec(body)?.[1] : undefined;
    if (action) {
      url = new URL(action, url);
      step = await browserFetch(jar, url, { method: 'POST', form: { username } });
      continue;
    }
    throw new Error(`sign-in of "${username}" stopped at ${url.origin}${url.pathname} with HTTP ${res.status}: ${body.slice(0, 300)}`);
  }
  throw new Error(`sign-in of "${username}" went through too many redirects`);
}

export interface SignedIn {
  /** Value for a Cookie header: `huddle_session=...`. */
  cookie: string;
  userId: string;
}

const SESSION_COOKIE_NAMES = ['huddle_session', '__Host-huddle_session'];

/** Signs `username` in at the app at `baseUrl` through the local identity provider. */
export async function signIn(baseUrl: string, username: string): Promise<SignedIn> {
  const { jar, callbackUrl } = await reachCallback(baseUrl, username);
  const { res, body } = await browserFetch(jar, callbackUrl);
  if (!isRedirect(res.status)) {
    throw new Error(`sign-in of "${username}": /authorize answered HTTP ${res.status}: ${body.slice(0, 300)}`);
  }
  const name = SESSION_COOKIE_NAMES.find((n) => jar.get(callbackUrl, n) !== undefined);
  if (!name) throw new Error(`sign-in of "${username}": /authorize set no session cookie`);
  // /authorize sets the cookie only after the user and session rows are written, and
  // the local provider's user ids are derived from the name: no need to ask /api/me.
  return { cookie: `${name}=${jar.get(callbackUrl, name)}`, userId: localUserId(username) };
}
