/**
 * People for integration tests: signed in through the real flow, calling the
 * HTTP API with their session cookie.
 */
import { signIn } from './sign-in.js';
import { uniqueId } from './test-stack.js';

export interface Person {
  username: string;
  userId: string;
  cookie: string;
}

type Target = { baseUrl: string } | string;
const baseOf = (target: Target) => (typeof target === 'string' ? target : target.baseUrl);

/** Signs a new person in (a fresh username starting with `label`). */
export async function person(target: Target, label: string): Promise<Person> {
  const username = uniqueId(label).toLowerCase();
  const { cookie, userId } = await signIn(baseOf(target), username);
  return { username, userId, cookie };
}

/** Calls `/api<path>` as `who` (or anonymously); the body is parsed JSON, `{}` when empty. */
export async function api<T = Record<string, unknown>>(
  target: Target,
  who: Person | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${baseOf(target)}/api${path}`, {
    method,
    headers: {
      // As the page does: a request that changes something names its origin.
      origin: new URL(baseOf(target)).origin,
      ...(who ? { cookie: who.cookie } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

/** Opens (or finds) the direct chat between two people and returns its id. */
export async function openDirect(target: Target, from: Person, to: Person): Promise<string> {
  const res = await api<{ chat: { chatId: string } }>(target, from, 'POST', '/chats/direct', { username: to.username });
  if (res.status !== 200) throw new Error(`opening a direct chat failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.chat.chatId;
}
