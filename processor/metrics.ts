import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function processorMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'processor_' });
  return {
    registry,
    events: new Counter({ name: 'processor_events_total', help: 'Events consumed and committed', labelNames: ['topic'], registers: [registry] }),
    lag: new Gauge({ name: 'processor_consumer_lag', help: 'Messages behind the high watermark', labelNames: ['topic', 'partition'], registers: [registry] }),
    bulkSeconds: new Histogram({ name: 'processor_bulk_seconds', help: 'Elasticsearch bulk latency', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    flushSeconds: new Histogram({ name: 'processor_flush_seconds', help: 'Time to flush every sink for one batch', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    flushErrors: new Counter({ name: 'processor_flush_errors_total', help: 'Failed flushes (retried)', registers: [registry] }),
    deadLettered: new Counter({ name: 'processor_dead_lettered_total', help: 'Records sent to the dead-letter topic', registers: [registry] }),
    lateEvents: new Counter({ name: 'processor_late_events_total', help: 'Events behind the watermark beyond the allowed lateness', labelNames: ['sink'], registers: [registry] }),
  };
}
export type ProcessorMetrics = ReturnType<typeof processorMetrics>;

/** /healthz and /metrics for the processor (it has no other HTTP surface). */
export function serveMetrics(metrics: ProcessorMetrics, host: string, port: number, healthy: () => boolean): Promise<Server> {
  const server = createServer(async (req, res) => {
    if (req.url === '/metrics') {
      res.setHeader('content-type', metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
    } else if (req.url === '/healthz') {
      const ok = healthy();
      res.statusCode = ok ? 200 : 503;
      res.end(JSON.stringify({ status: ok ? 'ok' : 'not running' }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}
