/**
 * The local provider's pages (the sign-in form, its errors), styled like the chat page:
 * the same colours, light and dark, and the same controls. The style is a stylesheet of
 * the provider's own origin (`SIGN_IN_STYLESHEET_PATH`), so the pages' policy allows
 * styles from 'self' only: no inline style, no script at all.
 */
import { escapeHtml } from '../shared/html.js';

export const SIGN_IN_STYLESHEET_PATH = '/assets/sign-in.css';

/** The policy of every page the provider renders itself. */
export const SIGN_IN_PAGE_POLICY = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

// No form-action directive above: browsers apply it to the redirects that follow a submit too.

export const SIGN_IN_STYLESHEET = `:root {
  --bg: #f6f7f9;
  --surface: #ffffff;
  --text: #1b1f24;
  --muted: #5b6470;
  --border: #d8dde3;
  --accent: #2f5fd0;
  --accent-text: #ffffff;
  --error: #b3261e;
  --focus: #f0a500;
  --radius: 10px;
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
  font-size: 16px;
  line-height: 1.4;
  color: var(--text);
  background: var(--bg);
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #14171b;
    --surface: #1d2126;
    --text: #e8eaed;
    --muted: #a3acb7;
    --border: #343a42;
    --accent: #7aa2ff;
    --accent-text: #0d1220;
    --error: #ff8a80;
  }
}
*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; padding: 1rem; }
main {
  width: 100%;
  max-width: 24rem;
  padding: 2rem 1.75rem 1.5rem;
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: var(--radius);
  box-shadow: 0 1px 3px rgb(0 0 0 / 0.08);
}
.brand { display: flex; align-items: center; gap: 0.5rem; margin: 0 0 1.25rem; font-size: 1.1rem; font-weight: 700; }
.brand-mark { width: 1.75rem; height: 1.75rem; }
h1 { margin: 0 0 0.5rem; font-size: 1.4rem; }
p { margin: 0 0 1rem; }
.note { color: var(--muted); font-size: 0.9rem; }
.error { color: var(--error); font-weight: 600; }
label { display: block; margin-bottom: 0.3rem; font-weight: 600; }
input, button { font: inherit; color: inherit; }
input {
  width: 100%;
  padding: 0.55rem 0.7rem;
  margin-bottom: 1rem;
  border: 1px solid var(--border);
  border-radius: var(--radius);
  background: var(--bg);
}
button {
  width: 100%;
  padding: 0.55rem 0.85rem;
  border: 1px solid var(--accent);
  border-radius: var(--radius);
  background: var(--accent);
  color: var(--accent-text);
  font-weight: 600;
  cursor: pointer;
}
.secondary { margin-top: 0.5rem; background: none; border-color: var(--border); color: var(--text); font-weight: 400; }
input:focus-visible, button:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
`;

/** The chat page's mark (its favicon), as an image of this origin's policy: a data: URL. */
const brandMark = `data:image/svg+xml,${encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#2f5fd0"/><path d="M8 10h16v10H14l-5 4v-4H8z" fill="#fff"/></svg>',
)}`;

export function signInPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${SIGN_IN_STYLESHEET_PATH}">
</head><body><main>
<p class="brand"><img class="brand-mark" src="${brandMark}" alt="">huddle</p>
<h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>`;
}

export function loginForm(uid: string, username = '', error?: string): string {
  return signInPage(
    'Sign in',
    `<p class="note">Local sign-in: any username works, no password. Names starting with "premium" get the premium tier.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label for="username">Username</label>
<input id="username" name="username" value="${escapeHtml(username)}" required minlength="2" maxlength="32" pattern="[A-Za-z0-9_.\\-]{2,32}" autocomplete="username" autofocus>
<button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit" class="secondary">Cancel</button></form>`,
  );
}
