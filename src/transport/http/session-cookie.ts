/**
 * Names and attributes of huddle's two cookies. Over https they take the `__Host-`
 * prefix, which browsers accept only with Secure, Path=/ and no Domain: a sibling
 * subdomain cannot plant or overwrite them.
 */
import { hasControlCharacters } from '../../shared/text.js';

export interface CookieSettings {
  /** True when the public origin is https. */
  secure: boolean;
}

export interface CookieAttributes {
  path: '/';
  httpOnly: true;
  sameSite: 'lax';
  secure: boolean;
  /** Seconds. */
  maxAge?: number;
}

/** How long a started sign-in may take before its login cookie is refused. */
export const LOGIN_COOKIE_MAX_AGE_S = 10 * 60;

const prefixed = (name: string, { secure }: CookieSettings) => (secure ? `__Host-${name}` : name);

export const sessionCookieName = (settings: CookieSettings) => prefixed('huddle_session', settings);
export const loginCookieName = (settings: CookieSettings) => prefixed('huddle_login', settings);

/**
 * SameSite=Lax, not Strict: the provider sends the browser back to /authorize with a
 * cross-site redirect, and the login cookie must come along.
 */
export function cookieAttributes(settings: CookieSettings, maxAgeS?: number): CookieAttributes {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: settings.secure,
    ...(maxAgeS === undefined ? {} : { maxAge: maxAgeS }),
  };
}

/** What the login cookie carries between /login and /authorize. */
export interface LoginAttempt {
  codeVerifier: string;
  state: string;
  nonce: string;
  /** Same-origin path to return to after sign-in. */
  next: string;
  /** Epoch ms after which the attempt is refused, whatever the browser kept. */
  expiresAt: number;
}

export function encodeLoginAttempt(attempt: LoginAttempt): string {
  return Buffer.from(JSON.stringify(attempt)).toString('base64url');
}

/** Undefined for anything that is not a well-formed, unexpired attempt. */
export function decodeLoginAttempt(value: string, now: number): LoginAttempt | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object') return undefined;
  const a = parsed as Record<string, unknown>;
  const strings = ['codeVerifier', 'state', 'nonce', 'next'] as const;
  if (!strings.every((k) => typeof a[k] === 'string' && a[k].length > 0)) return undefined;
  if (typeof a.expiresAt !== 'number' || a.expiresAt <= now) return undefined;
  return a as unknown as LoginAttempt;
}

/**
 * The path to return to after sign-in: only a same-origin path is kept, anything
 * else (absolute URLs, `//host`, backslash tricks, control characters) becomes `/`.
 */
export function safeReturnPath(next: unknown, publicOrigin: string): string {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (hasControlCharacters(next) || next.length > 2048) return '/';
  let url: URL;
  try {
    url = new URL(next, publicOrigin);
  } catch {
    return '/';
  }
  if (url.origin !== publicOrigin) return '/';
  // Returning to the sign-in routes themselves would loop.
  if (url.pathname === '/login' || url.pathname === '/authorize' || url.pathname === '/logout') return '/';
  return `${url.pathname}${url.search}${url.hash}`;
}
