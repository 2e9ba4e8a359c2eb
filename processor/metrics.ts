import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function processorMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'processor_' });
  return {
    registry,
    events: new Counter({ name: 'processor_events_total', help: 'Events handed to the sinks of a role', labelNames: ['topic', 'role'], registers: [registry] }),
    lag: new Gauge({ name: 'processor_consumer_lag', help: 'Messages behind the high watermark, per role (consumer group)', labelNames: ['topic', 'partition', 'role'], registers: [registry] }),
    bulkSeconds: new Histogram({ name: 'processor_bulk_seconds', help: 'Elasticsearch bulk latency', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    flushSeconds: new Histogram({ name: 'processor_flush_seconds', help: 'Time to flush every sink of a role for one batch', labelNames: ['role'], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    flushErrors: new Counter({ name: 'processor_flush_errors_total', help: 'Failed flushes (retried)', labelNames: ['role'], registers: [registry] }),
    deadLettered: new Counter({ name: 'processor_dead_lettered_total', help: 'Records sent to the dead-letter topic, by PR_ERR_* code (processor/errors.ts)', labelNames: ['code'], registers: [registry] }),
    lateEvents: new Counter({
      name: 'processor_late_events_total',
      help: 'Events older than their partition\'s latest event time minus the allowed lateness (behind_partition), or older than the watermark (behind_watermark): counted, not added',
      labelNames: ['reason'],
      registers: [registry],
    }),
    eventsPerSecond: new Gauge({ name: 'processor_events_per_second', help: 'Events handed to the sinks per second, over the last offset poll interval', registers: [registry] }),
    commits: new Counter({ name: 'processor_offset_commits_total', help: 'Topic-partition offsets committed', labelNames: ['role'], registers: [registry] }),
    indexYieldSeconds: new Counter({ name: 'processor_index_yield_seconds_total', help: 'Seconds raw-event bulks of the index role were held while the host was short of CPU (PROCESSOR_INDEX_YIELD_PRESSURE_PCT)', registers: [registry] }),
    backpressure: new Gauge({ name: 'processor_backpressure', help: '1 while consumption of a role waits for a failed flush to succeed', labelNames: ['role'], registers: [registry] }),
    watermark: new Gauge({ name: 'processor_watermark_seconds', help: 'Event-time watermark per partition (epoch seconds)', labelNames: ['partition'], registers: [registry] }),
    openWindows: new Gauge({ name: 'processor_open_windows', help: 'KPI and URL windows held in memory per partition', labelNames: ['partition'], registers: [registry] }),
    openSessions: new Gauge({ name: 'processor_open_sessions', help: 'Sessions held in memory per partition', labelNames: ['partition'], registers: [registry] }),
    catchingUp: new Gauge({ name: 'processor_analytics_catching_up', help: '1 while a partition\'s log is more than ANALYTICS_CATCH_UP_RECORDS ahead of the analytics role (only final KPI, session and URL documents written), else 0', labelNames: ['partition'], registers: [registry] }),
    sinkBulkSeconds: new Histogram({ name: 'processor_sink_write_seconds', help: 'Write latency per sink (Elasticsearch bulk, archive object put)', labelNames: ['sink'], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] }),
    archiveObjects: new Counter({ name: 'processor_archive_objects_total', help: 'Parquet objects written to the archive', registers: [registry] }),
    archiveBytes: new Counter({ name: 'processor_archive_bytes_total', help: 'Bytes of Parquet written to the archive', registers: [registry] }),
    repeatedEvents: new Counter({ name: 'processor_repeated_events_total', help: 'Records on Kafka twice, dropped by output: `analytics` (site and event id already counted in their open session: left out of KPIs, sessions and URL stats), `archive` (already archived within ARCHIVE_REPEAT_HORIZON offsets)', labelNames: ['output'], registers: [registry] }),
    staleWrites: new Counter({ name: 'processor_stale_writes_total', help: 'Provisional KPI, URL x country or session documents not written because a sealed one (final window, closed session) was stored already: usually a previous owner\'s write landing after a rebalance', registers: [registry] }),
    idleAdvances: new Counter({ name: 'processor_watermark_idle_advances_total', help: 'Times a quiet partition\'s watermark was moved by the clock (WATERMARK_IDLE_S)', labelNames: ['partition'], registers: [registry] }),
    assignedPartitions: new Gauge({ name: 'processor_assigned_partitions', help: 'Topic-partitions this instance holds, per role (0: none, e.g. while the group rebalances)', labelNames: ['role'], registers: [registry] }),
    stalled: new Gauge({ name: 'processor_stalled', help: '1 while a role holds no partitions, its loop is stuck in one step, it is behind the log end and wrote nothing, or Kafka refused its commits, for PROCESSOR_STALL_S', labelNames: ['role'], registers: [registry] }),
    lastProgress: new Gauge({ name: 'processor_last_progress_seconds', help: 'When a role last made what it consumed durable (a flush of every sink succeeded), epoch seconds', labelNames: ['role'], registers: [registry] }),
    lastCommit: new Gauge({ name: 'processor_last_commit_seconds', help: 'When Kafka last accepted an offset commit of a role, epoch seconds', labelNames: ['role'], registers: [registry] }),
    unreadable: new Counter({ name: 'processor_unreadable_records_total', help: 'Records that are not an enriched event (dead-lettered by one role)', labelNames: ['role'], registers: [registry] }),
    snapshotLastSuccess: new Gauge({ name: 'processor_snapshot_last_success_seconds', help: 'When this instance last saw the scheduled Elasticsearch snapshot succeed (epoch seconds; 0: not yet)', registers: [registry] }),
    snapshotFailures: new Counter({ name: 'processor_snapshot_failures_total', help: 'Scheduled Elasticsearch snapshots that failed (tried again a minute later)', registers: [registry] }),
    siteJudgedUntil: new Gauge({ name: 'processor_anomaly_site_judged_until_seconds', help: 'End of the last site window the site-level anomaly detector judged (epoch seconds; 0 on instances not owning partition 0 of the analytics group)', registers: [registry] }),
    alertsRaised: new Counter({ name: 'processor_alerts_raised_total', help: 'Alerts this instance indexed for the first time, by kind', labelNames: ['kind'], registers: [registry] }),
    alertDeliveries: new Counter({ name: 'processor_alert_deliveries_total', help: 'Webhook delivery attempts of alerts this instance made and recorded, by outcome: delivered (2xx), failed (retried later), dead (given up: dead-lettered)', labelNames: ['outcome'], registers: [registry] }),
    alertWebhookBacklog: new Gauge({ name: 'processor_alert_webhook_backlog', help: 'Alerts in the alerts index whose webhook delivery is pending or dead (dead-lettered), read by the instance owning partition 0 of the analytics group at each poll (ALERT_WEBHOOK_POLL_MS)', labelNames: ['state'], registers: [registry] }),
    retentionDeleted: new Counter({ name: 'processor_retention_deleted_indices_total', help: 'Daily event indices deleted by the retention job', registers: [registry] }),
  };
}
export type ProcessorMetrics = ReturnType<typeof processorMetrics>;

export interface Health {
  ok: boolean;
  reason: string | null;
}

/**
 * The processor's HTTP surface: /metrics; /healthz (liveness: 503 once a consumer crashed for
 * good); /readyz (readiness: 503 with the reason while a role holds no partitions or makes no
 * progress while its log grows).
 */
export function serveMetrics(metrics: ProcessorMetrics, host: string, port: number, alive: () => boolean, ready: () => Health): Promise<Server> {
  const server = createServer(async (req, res) => {
    if (req.url === '/metrics') {
      res.setHeader('content-type', metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
    } else if (req.url === '/healthz') {
      const ok = alive();
      res.statusCode = ok ? 200 : 503;
      res.end(JSON.stringify({ status: ok ? 'ok' : 'not running' }));
    } else if (req.url === '/readyz') {
      const h = ready();
      res.statusCode = h.ok ? 200 : 503;
      res.end(JSON.stringify({ status: h.ok ? 'ready' : 'not ready', reason: h.reason }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}
