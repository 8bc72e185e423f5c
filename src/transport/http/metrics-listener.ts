/**
 * `GET /metrics` (Prometheus text) on a listener of its own, bound to
 * METRICS_HOST:METRICS_PORT (loopback by default): the public port never serves
 * it, so the load balancer cannot expose it and no route guard is needed.
 */
import Fastify, { type FastifyInstance } from 'fastify';

export interface MetricsSource {
  readonly contentType: string;
  render(): Promise<string>;
}

export function buildMetricsListener(source: MetricsSource): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_request, reply) => reply.type(source.contentType).send(await source.render()));
  return app;
}
