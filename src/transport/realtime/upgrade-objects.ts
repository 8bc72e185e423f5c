/**
 * What the HTTP upgrade leaves behind, let go once the socket is open.
 *
 * @fastify/websocket routes an upgrade through Fastify with a `ServerResponse` it
 * assigns to the TCP socket. That response never finishes (the handshake is written
 * by ws, on the raw socket), so the socket keeps pointing at it for its whole life,
 * and through it at the request, its headers, Fastify's `Request` and `Reply` and a
 * request logger: about 5 KiB of heap per idle connection (measured by
 * `npm run bench:idle`) that nothing reads after the upgrade. The plugin's `error` listener on the WebSocket holds the same objects in
 * its closure. Detaching the response and replacing that listener lets them go.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';

const upgradeResponses = new WeakMap<FastifyRequest['raw'], ServerResponse>();

/** A route hook (the last before the handler): notes the response the upgrade was routed with. */
export async function rememberUpgradeResponse(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  upgradeResponses.set(request.raw, reply.raw);
}

/**
 * Detaches the upgrade's response from the TCP socket and drops every `error`
 * listener on the WebSocket (the plugin's, which logged and terminated): call first
 * thing in the handler, and attach the socket's own `error` listener, doing the
 * same, in the same tick.
 */
export function releaseUpgradeObjects(socket: WebSocket, request: FastifyRequest): void {
  const response = upgradeResponses.get(request.raw);
  upgradeResponses.delete(request.raw);
  response?.detachSocket(request.raw.socket);
  socket.removeAllListeners('error');
}
