/**
 * WebSocket close codes huddle uses. 4000-4499: the client should reconnect (and
 * sync); 4500-4999: terminal, reconnecting will not help. Reasons stay short:
 * WebSocket caps them at 123 bytes.
 */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  /** The server could not set the connection up (a dependency failed); reconnect. */
  setupFailed: 4000,
  /** The peer stopped answering pings. */
  unresponsive: 4002,
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
  goingAway: 'server shutting down',
  setupFailed: 'could not set up the connection',
  unresponsive: 'no pong',
  slowConsumer: 'slow consumer: reconnect and sync',
  flooding: 'too many frames',
  sessionEnded: 'session ended: sign in again',
};
