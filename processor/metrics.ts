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
    lateEvents: new Counter({
      name: 'processor_late_events_total',
      help: 'Events older than their partition\'s latest event time minus the allowed lateness (behind_partition), or older than the watermark (behind_watermark): counted, not added',
      labelNames: ['reason'],
      registers: [registry],
    }),
    eventsPerSecond: new Gauge({ name: 'processor_events_per_second', help: 'Events handed to the sinks per second, over the last offset poll interval', registers: [registry] }),
    commits: new Counter({ name: 'processor_offset_commits_total', help: 'Topic-partition offsets committed', registers: [registry] }),
    backpressure: new Gauge({ name: 'processor_backpressure', help: '1 while consumption waits for a failed flush to succeed', registers: [registry] }),
    watermark: new Gauge({ name: 'processor_watermark_seconds', help: 'Event-time watermark per partition (epoch seconds)', labelNames: ['partition'], registers: [registry] }),
    openWindows: new Gauge({ name: 'processor_open_windows', help: 'KPI and URL windows held in memory per partition', labelNames: ['partition'], registers: [registry] }),
    openSessions: new Gauge({ name: 'processor_open_sessions', help: 'Sessions held in memory per partition', labelNames: ['partition'], registers: [registry] }),
    sinkBulkSeconds: new Histogram({ name: 'processor_sink_write_seconds', help: 'Write latency per sink (Elasticsearch bulk, archive object put)', labelNames: ['sink'], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    archiveObjects: new Counter({ name: 'processor_archive_objects_total', help: 'Parquet objects written to the archive', registers: [registry] }),
    archiveBytes: new Counter({ name: 'processor_archive_bytes_total', help: 'Bytes of Parquet written to the archive', registers: [registry] }),
    retentionDeleted: new Counter({ name: 'processor_retention_deleted_indices_total', help: 'Daily event indices deleted by the retention job', registers: [registry] }),
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
