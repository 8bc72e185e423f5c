/** Text people type that others will see: what must not survive into titles, names and file names. */

// Matching control characters is the point of these patterns.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
// eslint-disable-next-line no-control-regex
const HAS_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/**
 * Bidirectional overrides, embeddings, isolates and marks, zero-width characters
 * and the byte-order mark: invisible, and able to make text read as other text
 * ("photo\u202egnp.exe" shows as "photoexe.png").
 */
const INVISIBLE_FORMATTING = /[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/** Removes control and invisible formatting characters, then trims. */
export function stripUnsafeCharacters(text: string): string {
  return text.replace(CONTROL, '').replace(INVISIBLE_FORMATTING, '').trim();
}

export function hasControlCharacters(text: string): boolean {
  return HAS_CONTROL.test(text);
}
