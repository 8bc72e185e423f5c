/** What the page and the server agree on about frames beyond their shapes. */

/** Frames a slow socket may miss without losing anything it cannot get back. */
export const EPHEMERAL_FRAME_TYPES: ReadonlySet<string> = new Set(['typing', 'presence']);

/** A history page: how many messages when the client does not say, and at most. */
export const HISTORY_PAGE_DEFAULT = 50;
export const HISTORY_PAGE_MAX = 100;

/** Longest group title, in characters. */
export const GROUP_TITLE_MAX = 100;

/** Chats one `sync` frame may ask about. */
export const SYNC_MAX_CHATS = 1000;
