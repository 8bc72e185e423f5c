/** The chat list's one-line preview of the latest message: the same rule on the server and in the page. */

export const PREVIEW_LENGTH = 120;

export function previewOf(message: { text?: string | undefined; fileName?: string | undefined }): string {
  if (message.fileName !== undefined) return truncate(`📎 ${message.fileName}`);
  return truncate((message.text ?? '').replace(/\s+/g, ' ').trim());
}

function truncate(text: string): string {
  const chars = [...text];
  return chars.length > PREVIEW_LENGTH ? `${chars.slice(0, PREVIEW_LENGTH - 1).join('')}…` : text;
}
