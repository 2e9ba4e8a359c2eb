import { pino } from 'pino';
import type { Kafka } from 'kafkajs';
import type { Client } from '@elastic/elasticsearch';
import { ConfigError, type Config } from '../contracts/config.js';
import { loadConfig } from '../common/config.js';
import { EVENT_TOPICS } from '../contracts/topics.js';
import { kafkaFromConfig } from '../common/kafka-client.js';
import { esFromConfig } from '../common/es-client.js';
import { consumerRequestTimeoutMs, startConsumer, type Runner } from './consumer.js';
import { DeadLetterBuffer } from './dead-letters.js';
import type { ProcessorErrorCode } from './errors.js';
import type { OutIndex } from './analytics/engine.js';
import type { BulkRefresh } from './es-bulk.js';
import { processorMetrics, serveMetrics, type Health } from './metrics.js';
import { esEventsSink, type RefusedEvent } from './sinks/es-events-sink.js';
import { analyticsSink, type AnalyticsSink } from './sinks/analytics-sink.js';
import { archiveSink } from './sinks/archive-sink.js';
import { setHeapV8Flags } from './node-flags.js';
import { objectStoreFromConfig } from './archive/object-store.js';
import { tumbling, windowSpecs } from '../contracts/windows.js';
import type { EngineOptions } from './analytics/engine.js';
import { startRetention } from './retention.js';
import { startScheduledSnapshots } from './snapshots.js';
import type { Sink } from './sink.js';
import { alertsSink } from './sinks/alerts-sink.js';
import { parseAnalyticsBytes, parseAnalyticsEvent } from './layout-parse.js';
import { anomalyOptionsFromConfig } from './anomaly/options.js';
import { siteMonitor } from './alerts/site-monitor.js';
import { alertOutbox } from './alerts/outbox.js';
import { indexNames, kpiTranslogDurability } from '../contracts/indices.js';
import { yieldCpu } from './yield-cpu.js';
import { startIndexYield } from './index-yield.js';
import { kpiTracer } from './sinks/kpi-trace.js';
import { createIndices } from './create-indices.js';

/** The analytics engine's settings from config: the live processor and the archive replay use the same. */
export function engineOptionsFromConfig(
  config: Pick<Config, 'kpiTumblingS' | 'kpiSlidingSizeS' | 'kpiSlidingStepS' | 'kpiAllowedLatenessS' | 'sessionGapS' | 'kpiExcludeBots'> & Partial<Pick<Config, 'analyticsRepeatHorizon' | 'analyticsCatchUpRecords'>>,
): Omit<EngineOptions, 'partition' | 'topics'> {
  return {
    windows: windowSpecs(config),
    urlWindowMs: config.kpiTumblingS * 1000,
    latenessMs: config.kpiAllowedLatenessS * 1000,
    sessionGapMs: config.sessionGapS * 1000,
    excludeBots: config.kpiExcludeBots,
    ...(config.analyticsRepeatHorizon !== undefined ? { repeatHorizon: config.analyticsRepeatHorizon } : {}),
    ...(config.analyticsCatchUpRecords !== undefined ? { catchUpRecords: config.analyticsCatchUpRecords } : {}),
  };
}

/** The most partitions of the event topics (the topics of one deployment have the same count). */
async function topicPartitionCount(kafka: Kafka, topics: string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const meta = await admin.fetchTopicMetadata({ topics });
    return Math.max(1, ...meta.topics.map((t) => t.partitions.length));
  } finally {
    await admin.disconnect();
  }
}

/** The processor's roles: each consumes every event topic in its own consumer group. */
export const ROLES = ['analytics', 'index', 'archive'] as const;
export type Role = (typeof ROLES)[number];

/** The roles named in PROCESSOR_ROLES, in a fixed order; throws on an unknown one. */
export function rolesFromConfig(config: Pick<Config, 'processorRoles'>): Role[] {
  const wanted = new Set(config.processorRoles);
  for (const r of wanted) if (!(ROLES as readonly string[]).includes(r)) throw new ConfigError(`PROCESSOR_ROLES: unknown role "${r}" (one of ${ROLES.join(', ')})`);
  if (wanted.size === 0) throw new ConfigError(`PROCESSOR_ROLES is empty (one or more of ${ROLES.join(', ')})`);
  return ROLES.filter((r) => wanted.has(r));
}

/** Consumer group of a role. */
export const roleGroupId = (config: Pick<Config, 'processorGroupId'>, role: Role) => `${config.processorGroupId}-${role}`;

/** The dead-letter code of a document each analytics index refused. */
const REFUSED_CODE: Record<OutIndex, ProcessorErrorCode> = {
  kpis: 'PR_ERR_ES_KPI_REJECTED',
  urlStats: 'PR_ERR_ES_URL_STATS_REJECTED',
  sessions: 'PR_ERR_ES_SESSION_REJECTED',
};

/**
 * What makes the KPI documents acknowledged so far durable when the KPI index's translog is
 * asynchronous (ES_KPI_TRANSLOG_DURABILITY=async): a flush of that index, a Lucene commit. None
 * with `request`: every bulk was fsynced before its acknowledgement.
 */
export function kpiSync(es: Client, config: Pick<Config, 'esIndexPrefix' | 'esKpiTranslogDurability'>): (() => Promise<void>) | undefined {
  if (kpiTranslogDurability(config) !== 'async') return undefined;
  const index = indexNames(config.esIndexPrefix).kpis;
  return async () => {
    await es.indices.flush({ index });
  };
}

/** ES_KPI_BULK_REFRESH as the bulk parameter; throws on a value Elasticsearch does not know. */
export function kpiBulkRefresh(config: Pick<Config, 'esKpiBulkRefresh'>): BulkRefresh {
  const v = config.esKpiBulkRefresh.trim();
  if (v === 'true') return true;
  if (v === 'false' || v === '') return false;
  if (v === 'wait_for') return 'wait_for';
  throw new ConfigError(`ES_KPI_BULK_REFRESH: "${v}" is not one of true, false, wait_for`);
}

/** Builds the sinks of every role from config and starts one consumer per role; returns a stop function. */
export async function startProcessor(overrides: Partial<Config> = {}, onFatal?: (reason: string) => void) {
  const config = loadConfig(overrides);
  const log = pino({ level: config.logLevel, base: { service: 'processor' } });
  const roles = rolesFromConfig(config);
  const nice = yieldCpu(config, roles, log);
  if (nice !== null) log.info({ roles, nice }, 'raw indexing and archive yield the CPU (PROCESSOR_BACKGROUND_NICE)');
  const v8Flags = setHeapV8Flags(config, roles);
  if (v8Flags.length) log.info({ roles, v8Flags }, 'V8 keeps the heap closer to what is alive (PROCESSOR_HEAP_GROWING_PERCENT)');
  const metrics = processorMetrics();
  const es = esFromConfig(config);
  const topics = EVENT_TOPICS.map((t) => config.topicPrefix + t);
  const observe = (sink: string) => (seconds: number) => {
    metrics.sinkBulkSeconds.observe({ sink }, seconds);
    if (sink !== 'archive') metrics.bulkSeconds.observe(seconds);
  };

  /** Per role: its sinks and its own dead letters (a failed send holds back only that role). */
  /** `parse`, `parseBytes`: how the role reads a record (default JSON.parse of the whole event). */
  const plans: { role: Role; sinks: Sink[]; deadLetters: DeadLetterBuffer; parse?: (text: string) => unknown; parseBytes?: (buf: Buffer, start: number, end: number) => unknown }[] = [];
  let analytics: AnalyticsSink | null = null;
  /** Background work of the sinks, stopped before the consumers. */
  const stoppers: (() => Promise<void>)[] = [];
  for (const role of roles) {
    const deadLetters = new DeadLetterBuffer(config.deadLetterRawBytes);
    if (role === 'analytics') {
      analytics = analyticsSink({
        client: es,
        indexPrefix: config.esIndexPrefix,
        topics,
        engine: engineOptionsFromConfig(config),
        emitIntervalMs: config.kpiEmitIntervalMs,
        sessionEmitIntervalMs: config.sessionEmitIntervalMs,
        kpiEmitBetweenFlushes: config.kpiEmitBetweenFlushes,
        kpiBulkLanes: config.kpiBulkLanes,
        sessionBulkDocs: config.sessionBulkDocs,
        sessionBulkPerIndex: config.sessionBulkPerIndex,
        kpiRefresh: kpiBulkRefresh(config),
        syncKpis: kpiSync(es, config),
        trace: kpiTracer(config.kpiTraceSitePrefix, tumbling(config.kpiTumblingS * 1000).kind, (t) => log.info({ kpiTrace: t }, 'traced event written to its KPI window')),
        onKpiEmitError: (err) => log.warn({ err: err.message }, 'writing the open KPI windows failed; written again when they next change'),
        idleAdvanceMs: config.watermarkIdleS * 1000,
        onRepeat: (n) => metrics.repeatedEvents.inc({ output: 'analytics' }, n),
        onStale: (n) => metrics.staleWrites.inc(n),
        onIdleAdvance: (partition) => metrics.idleAdvances.inc({ partition: String(partition) }),
        onBulk: observe('analytics'),
        onLate: (reason, n) => metrics.lateEvents.inc({ reason }, n),
        onReject: (kind, doc, reason) => deadLetters.push({ code: REFUSED_CODE[kind], reason, parsed: doc, siteId: typeof doc.site_id === 'string' ? doc.site_id : null }),
      });
      const sinks: Sink[] = [analytics];
      const kpiWriter = analytics;
      stoppers.push(() => kpiWriter.stop());
      if (config.anomalyEnabled) {
        const detectors = anomalyOptionsFromConfig(config);
        const outbox = config.alertWebhookUrl
          ? alertOutbox({
              client: es,
              index: indexNames(config.esIndexPrefix).alerts,
              webhook: { url: config.alertWebhookUrl, secret: config.alertWebhookSecret, timeoutMs: config.alertWebhookTimeoutMs },
              maxAttempts: Math.max(1, config.alertWebhookMaxAttempts),
              maxAgeMs: config.alertWebhookMaxAgeS * 1000,
              baseDelayMs: Math.max(1, config.alertWebhookRetryBaseMs),
              maxDelayMs: Math.max(1, config.alertWebhookRetryMaxS * 1000),
              pollMs: Math.max(100, config.alertWebhookPollMs),
              log,
              onOutcome: (_a, outcome) => metrics.alertDeliveries.inc({ outcome }),
              onBacklog: (pending, dead) => {
                metrics.alertWebhookBacklog.set({ state: 'pending' }, pending);
                metrics.alertWebhookBacklog.set({ state: 'dead' }, dead);
              },
            })
          : null;
        const tumblingWindow = tumbling(config.kpiTumblingS * 1000);
        const sites = siteMonitor({
          client: es,
          indexPrefix: config.esIndexPrefix,
          windowKind: tumblingWindow.kind,
          windowMs: tumblingWindow.sizeMs,
          site: detectors.site,
          historyWeeks: config.anomalySiteHistoryWeeks,
          pollMs: Math.max(100, config.anomalySitePollMs),
          graceMs: config.anomalySiteGraceS * 1000,
          outbox,
          log,
          partitions: () => topicPartitionCount(kafka, topics),
          onAlert: (a) => metrics.alertsRaised.inc({ kind: a.kind }),
          onJudged: (until) => metrics.siteJudgedUntil.set(until / 1000),
        });
        stoppers.push(() => sites.stop());
        sinks.push(sites);
        if (outbox) {
          stoppers.push(() => outbox.stop());
          sinks.push(outbox);
        }
        sinks.push(
          alertsSink({
            client: es,
            indexPrefix: config.esIndexPrefix,
            detectors,
            topics,
            outbox,
            onAlert: (a, created) => {
              if (!created) return;
              log.info({ alert: a.alert_id, kind: a.kind }, 'alert raised');
              metrics.alertsRaised.inc({ kind: a.kind });
            },
          }),
        );
      }
      // Every sink of this role takes an AnalyticsEvent (analytics-event.ts): it parses only those fields.
      plans.push({ role, sinks, deadLetters, parse: parseAnalyticsEvent, parseBytes: parseAnalyticsBytes });
    } else if (role === 'index') {
      const onReject = (r: RefusedEvent) =>
        deadLetters.push({
          code: 'PR_ERR_ES_EVENT_REJECTED',
          reason: r.reason,
          parsed: r.event,
          received: r.raw ?? null,
          siteId: r.event.site_id,
          origin: { topic: r.position.topic, partition: r.position.partition, offset: r.position.offset },
        });
      const held = startIndexYield(config, (seconds) => metrics.indexYieldSeconds.inc(seconds));
      stoppers.push(async () => held.stop());
      plans.push({ role, sinks: [esEventsSink(es, config.esIndexPrefix, onReject, observe('es-events'), held.gate)], deadLetters });
    } else {
      const store = objectStoreFromConfig(config);
      if (!store) {
        log.warn('archive role skipped: ARCHIVE_BACKEND is none');
        continue;
      }
      const archive = archiveSink({
        store,
        maxEvents: config.archiveMaxEvents,
        maxAgeMs: config.archiveMaxAgeS * 1000,
        maxBufferBytes: config.archiveMaxBufferMb * 1e6,
        repeatHorizon: config.archiveRepeatHorizon,
        onRepeat: (n) => metrics.repeatedEvents.inc({ output: 'archive' }, n),
        onWrite: (seconds, bytes) => {
          metrics.sinkBulkSeconds.observe({ sink: 'archive' }, seconds);
          metrics.archiveObjects.inc();
          metrics.archiveBytes.inc(bytes);
        },
        log,
      });
      plans.push({ role, sinks: [archive], deadLetters });
    }
  }

  if (analytics) {
    // Its indices created while the consumer joins its group: the first KPI bulk then finds them there.
    const n = indexNames(config.esIndexPrefix);
    void createIndices(es, [n.kpis, n.sessions, n.urlStats, ...(config.anomalyEnabled ? [n.alerts] : [])], (err) => log.warn({ err }, 'creating an output index at start failed; its first bulk creates it'));
  }
  const kafka = kafkaFromConfig(config, 'processor', log, { requestTimeout: consumerRequestTimeoutMs(config) });
  let crashed = false;
  const runners: Runner[] = [];
  const stallMs = config.processorStallS * 1000;
  const health = (): Health => {
    if (crashed) return { ok: false, reason: 'stopped' };
    for (const r of runners) {
      const h = r.coordinator.health(stallMs);
      if (!h.ok) return { ok: false, reason: `${r.role}: ${h.reason}` };
    }
    return { ok: runners.length > 0, reason: runners.length > 0 ? null : 'starting' };
  };
  const server = config.processorMetricsPort ? await serveMetrics(metrics, config.processorMetricsHost, config.processorMetricsPort, () => !crashed, health) : null;
  try {
    for (const plan of plans) {
      const runner = await startConsumer({
        config,
        kafka,
        groupId: roleGroupId(config, plan.role),
        legacyGroupId: config.processorGroupId,
        role: plan.role,
        sinks: plan.sinks,
        log,
        metrics,
        deadLetters: plan.deadLetters,
        deadLetterUnreadable: plan.role === 'index',
        parse: plan.parse,
        parseBytes: plan.parseBytes,
        // The analytics role's flush writes its open windows' documents, whose number does not grow
        // with the events consumed, and holds no events: flushing every PROCESSOR_BATCH_SIZE events
        // only rewrote the same documents and made consumption wait for each flush in turn. It
        // flushes every PROCESSOR_FLUSH_INTERVAL_MS. The index and archive roles hold the events
        // themselves, so their batches stay bounded.
        flushEveryEvents: plan.role === 'analytics' ? Infinity : config.processorBatchSize,
      });
      runner.onCrash((err, restart) => {
        log.error({ role: plan.role, err }, 'consumer crashed');
        if (!restart) {
          crashed = true;
          onFatal?.(`${plan.role} consumer crashed: ${(err as Error)?.message}`);
        }
      });
      runners.push(runner);
    }
  } catch (err) {
    for (const stop of stoppers) await stop();
    for (const r of runners) await r.stop().catch(() => undefined);
    server?.close();
    await es.close();
    throw err;
  }
  const stopRetention = roles.includes('index')
    ? startRetention(es, config.esIndexPrefix, config.esEventsRetentionDays, config.esRetentionIntervalS, log, (n) => metrics.retentionDeleted.inc(n))
    : () => undefined;
  // Snapshots are the index role's chore, like retention: one role per deployment runs them.
  const stopSnapshots = roles.includes('index')
    ? startScheduledSnapshots(es, config, {
        intervalS: config.esSnapshotIntervalS,
        log,
        onSuccess: () => metrics.snapshotLastSuccess.set(Date.now() / 1000),
        onFailure: () => metrics.snapshotFailures.inc(),
      })
    : () => undefined;
  let lastCount = 0;
  let lastAt = performance.now();
  /** Per role: why it was last reported stalled, so a stall is logged once when it starts and once when it ends. */
  const stalledWhy = new Map<string, string>();
  const gauges = setInterval(() => {
    for (const r of runners) {
      const h = r.coordinator.health(stallMs);
      metrics.stalled.set({ role: r.role }, h.ok ? 0 : 1);
      const was = stalledWhy.get(r.role);
      if (!h.ok && was === undefined) log.error({ role: r.role, reason: h.reason }, 'processor role stalled (see the README: a stalled processor)');
      if (h.ok && was !== undefined) log.info({ role: r.role, was }, 'processor role making progress again');
      if (h.ok) stalledWhy.delete(r.role);
      else stalledWhy.set(r.role, h.reason ?? '');
    }
    void metrics.events.get().then((m) => {
      const total = m.values.reduce((s, v) => s + v.value, 0) / Math.max(1, runners.length);
      const now = performance.now();
      metrics.eventsPerSecond.set(((total - lastCount) * 1000) / Math.max(1, now - lastAt));
      lastCount = total;
      lastAt = now;
    });
    if (!analytics) return;
    for (const s of analytics.stats()) {
      const p = String(s.partition);
      if (Number.isFinite(s.watermark)) metrics.watermark.set({ partition: p }, s.watermark / 1000);
      metrics.openWindows.set({ partition: p }, s.openWindows);
      metrics.openSessions.set({ partition: p }, s.openSessions);
      metrics.catchingUp.set({ partition: p }, s.catchingUp ? 1 : 0);
    }
  }, 1000);
  gauges.unref();
  log.info({ topics, roles: runners.map((r) => r.role), groups: plans.map((p) => roleGroupId(config, p.role)), archive: config.archiveBackend }, 'processor running');
  return {
    log,
    metrics,
    roles: runners.map((r) => r.role),
    health,
    async stop() {
      crashed = true;
      clearInterval(gauges);
      stopRetention();
      stopSnapshots();
      await Promise.all(stoppers.map((stop) => stop()));
      // Side by side: each role's last flush and commit, and leaving its group.
      await Promise.all(runners.map((r) => r.stop()));
      await es.close();
      server?.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const running: { p?: Awaited<ReturnType<typeof startProcessor>> } = {};
  let closing = false;
  /**
   * Every exit path but SIGKILL leaves the consumer groups first (the last flush and commit, then
   * LeaveGroup), so the partitions move on at once instead of after the session timeout; bounded,
   * so a stuck output cannot keep a broken process alive.
   */
  const exit = async (code: number, why: string, err?: unknown) => {
    if (closing) return;
    closing = true;
    const { p } = running;
    if (!p) console.error(why, err);
    else if (code === 0) p.log.info({ why }, 'stopping after the current batch');
    else p.log.error({ err, why }, 'stopping on a fatal error');
    const timer = setTimeout(() => process.exit(code), 15_000);
    timer.unref();
    await p?.stop().catch(() => undefined);
    process.exit(code);
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void exit(0, sig));
  process.on('uncaughtException', (err) => void exit(1, 'uncaught exception', err));
  process.on('unhandledRejection', (err) => void exit(1, 'unhandled rejection', err));
  running.p = await startProcessor({}, (reason) => void exit(1, reason));
}
