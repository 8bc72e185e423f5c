/**
 * WebSocket close codes huddle sends, shared by the server and the page.
 * 4000-4499: the client should reconnect (and sync); 4500-4999: terminal,
 * reconnecting will not help. Reasons stay short: WebSocket caps them at 123 bytes.
 */
export const CloseCode = {
  normal: 1000,
  /** This instance is draining (shutting down or replaced): reconnect, another instance answers, and sync. */
  serviceRestart: 1012,
  /** The frame was larger than the server accepts (sent by the WebSocket library itself). */
  tooLarge: 1009,
  /** The server could not set the connection up (a dependency failed); reconnect. */
  setupFailed: 4000,
  /** The socket's send buffer passed the hard limit; reconnect and sync. */
  slowConsumer: 4008,
  /** The client sent frames far faster than allowed; reconnect after backing off. */
  flooding: 4009,
  /** The session expired or was signed out; sign in again. */
  sessionEnded: 4501,
} as const;

export type CloseCodeName = keyof typeof CloseCode;

export const closeReason: Record<CloseCodeName, string> = {
  normal: 'bye',
  serviceRestart: 'server restarting: reconnect',
  tooLarge: 'frame too large',
  setupFailed: 'could not set up the connection',
  slowConsumer: 'slow consumer: reconnect and sync',
  flooding: 'too many frames',
  sessionEnded: 'session ended: sign in again',
};

/** True for codes after which reconnecting cannot help (sign in again first). */
export const isTerminalClose = (code: number): boolean => code >= 4500 && code <= 4999;
