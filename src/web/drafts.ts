/**
 * One unsent draft per chat, kept in the browser's storage so a reload does not
 * lose it. Storage may be missing or full (private modes); drafts then live for
 * the page's lifetime only.
 */
const PREFIX = 'huddle.draft.';

export interface DraftStore {
  get(chatId: string): string;
  set(chatId: string, text: string): void;
}

export function createDraftStore(storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | undefined): DraftStore {
  const memory = new Map<string, string>();
  return {
    get(chatId) {
      try {
        return storage?.getItem(PREFIX + chatId) ?? memory.get(chatId) ?? '';
      } catch {
        return memory.get(chatId) ?? '';
      }
    },
    set(chatId, text) {
      if (text) memory.set(chatId, text);
      else memory.delete(chatId);
      try {
        if (text) storage?.setItem(PREFIX + chatId, text);
        else storage?.removeItem(PREFIX + chatId);
      } catch {
        // full or forbidden: the in-memory copy still holds it
      }
    },
  };
}
