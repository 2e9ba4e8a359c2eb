import type { FastifyInstance } from 'fastify';
import { GatewayError } from './errors.js';
import type { GatewayMetrics } from './metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** This process's own metrics (prom-client's JSON), for the primary to sum (cluster-metrics.ts). */
    ownMetrics: () => Promise<object[]>;
  }
}

/**
 * GET /metrics: this process's registry, or, in a process of a gateway of several, the whole
 * gateway's page that `page` gives (cluster-metrics.ts: the sum of every process's `ownMetrics`).
 * `refresh` is called before the registry is read, for a scrape or for the primary.
 */
export function registerMetricsRoute(app: FastifyInstance, metrics: GatewayMetrics, page: (() => Promise<string>) | undefined, refresh: () => void): void {
  app.decorate('ownMetrics', () => (refresh(), metrics.registry.getMetricsAsJSON()));
  app.get('/metrics', async (_req, reply) => {
    let text: string;
    if (page) {
      try {
        text = await page();
      } catch (err) {
        throw new GatewayError('GW_ERR_METRICS_UNAVAILABLE', (err as Error).message);
      }
    } else {
      refresh();
      text = await metrics.registry.metrics();
    }
    reply.header('content-type', metrics.registry.contentType);
    return text;
  });
}
