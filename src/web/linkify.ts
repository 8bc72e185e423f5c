/**
 * Text people wrote, split into plain runs and links. Only http(s) and mailto become
 * links: `javascript:`, `data:` and every other scheme stay plain text. The page
 * turns segments into text nodes and anchors, never into markup.
 */
export type TextSegment = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string };

const CANDIDATE = /\b(?:https?:\/\/|mailto:)[^\s<>"]+/gi;
/** Punctuation that usually ends the sentence, not the address. */
const TRAILING = /[.,;:!?)\]}'"]+$/;
const SAFE_SCHEMES = new Set(['http:', 'https:', 'mailto:']);

/** The address as a link target, or null when it is not one we let people click. */
export function safeHref(candidate: string): string | null {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if (!SAFE_SCHEMES.has(url.protocol)) return null;
  if (url.protocol !== 'mailto:' && !url.hostname) return null;
  return url.href;
}

export function linkify(text: string): TextSegment[] {
  const segments: TextSegment[] = [];
  let plainFrom = 0;
  for (const match of text.matchAll(CANDIDATE)) {
    const start = match.index;
    const address = match[0].replace(TRAILING, '');
    const href = safeHref(address);
    if (!href) continue;
    if (start > plainFrom) segments.push({ kind: 'text', text: text.slice(plainFrom, start) });
    segments.push({ kind: 'link', text: address, href });
    plainFrom = start + address.length;
  }
  if (plainFrom < text.length) segments.push({ kind: 'text', text: text.slice(plainFrom) });
  return segments;
}
