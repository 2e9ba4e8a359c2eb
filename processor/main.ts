import { pino } from 'pino';
import { loadConfig, type Config } from '../contracts/config.js';
import { EVENT_TOPICS } from '../contracts/topics.js';
import { kafkaFromConfig } from '../common/kafka-client.js';
import { esFromConfig } from '../common/es-client.js';
import { DeadLetterBuffer, startConsumer } from './consumer.js';
import { processorMetrics, serveMetrics } from './metrics.js';
import { esEventsSink } from './sinks/es-events-sink.js';
import { analyticsSink } from './sinks/analytics-sink.js';
import { archiveSink } from './sinks/archive-sink.js';
import { objectStoreFromConfig } from './archive/object-store.js';
import { sliding, tumbling, type WindowSpec } from './analytics/windows.js';
import { startRetention } from './retention.js';
import type { Sink } from './sink.js';

/** The KPI window kinds from config: one tumbling, and one sliding unless its size is 0. */
export function windowSpecsFromConfig(config: Pick<Config, 'kpiTumblingS' | 'kpiSlidingSizeS' | 'kpiSlidingStepS'>): WindowSpec[] {
  const specs = [tumbling(config.kpiTumblingS * 1000)];
  if (config.kpiSlidingSizeS > 0) {
    const s = sliding(config.kpiSlidingSizeS * 1000, config.kpiSlidingStepS * 1000);
    if (s.kind !== specs[0].kind) specs.push(s);
  }
  return specs;
}

/** Builds the sinks from config and starts consuming; returns a stop function. */
export async function startProcessor(overrides: Partial<Config> = {}) {
  const config = loadConfig(overrides);
  const log = pino({ level: config.logLevel, base: { service: 'processor' } });
  const metrics = processorMetrics();
  const es = esFromConfig(config);
  const deadLetters = new DeadLetterBuffer();
  const topics = EVENT_TOPICS.map((t) => config.topicPrefix + t);
  const observe = (sink: string) => (seconds: number) => {
    metrics.sinkBulkSeconds.observe({ sink }, seconds);
    if (sink !== 'archive') metrics.bulkSeconds.observe(seconds);
  };

  const analytics = analyticsSink({
    client: es,
    indexPrefix: config.esIndexPrefix,
    topics,
    engine: {
      windows: windowSpecsFromConfig(config),
      urlWindowMs: config.kpiTumblingS * 1000,
      latenessMs: config.kpiAllowedLatenessS * 1000,
      sessionGapMs: config.sessionGapS * 1000,
      excludeBots: config.kpiExcludeBots,
    },
    emitIntervalMs: config.kpiEmitIntervalMs,
    onBulk: observe('analytics'),
    onLate: (reason, n) => metrics.lateEvents.inc({ reason }, n),
    onReject: (doc, reason) => deadLetters.push(reason, 'PR_ERR_ES_REJECTED', doc),
  });
  const sinks: Sink[] = [
    esEventsSink(es, config.esIndexPrefix, (doc, reason) => deadLetters.push(reason, 'PR_ERR_ES_REJECTED', doc), observe('es-events')),
    analytics,
  ];
  const store = objectStoreFromConfig(config);
  if (store) {
    sinks.push(
      archiveSink({
        store,
        maxEvents: config.archiveMaxEvents,
        maxAgeMs: config.archiveMaxAgeS * 1000,
        onWrite: (seconds, bytes) => {
          metrics.sinkBulkSeconds.observe({ sink: 'archive' }, seconds);
          metrics.archiveObjects.inc();
          metrics.archiveBytes.inc(bytes);
        },
        log,
      }),
    );
  }

  const kafka = kafkaFromConfig(config, 'processor', log);
  let running = true;
  const server = config.processorMetricsPort
    ? await serveMetrics(metrics, config.processorMetricsHost, config.processorMetricsPort, () => running)
    : null;
  const runner = await startConsumer({ config, kafka, sinks, log, metrics, deadLetters });
  runner.consumer.on(runner.consumer.events.CRASH, (e) => {
    log.error({ err: e.payload.error }, 'consumer crashed');
    if (!e.payload.restart) running = false;
  });
  const stopRetention = startRetention(es, config.esIndexPrefix, config.esEventsRetentionDays, config.esRetentionIntervalS, log, (n) => metrics.retentionDeleted.inc(n));
  const gauges = setInterval(() => {
    for (const s of analytics.stats()) {
      const p = String(s.partition);
      if (Number.isFinite(s.watermark)) metrics.watermark.set({ partition: p }, s.watermark / 1000);
      metrics.openWindows.set({ partition: p }, s.openWindows);
      metrics.openSessions.set({ partition: p }, s.openSessions);
    }
  }, 1000);
  gauges.unref();
  log.info({ topics, group: config.processorGroupId, archive: config.archiveBackend }, 'processor running');
  return {
    log,
    metrics,
    async stop() {
      running = false;
      clearInterval(gauges);
      stopRetention();
      await runner.stop();
      await es.close();
      server?.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const p = await startProcessor();
  let closing = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, async () => {
      if (closing) return;
      closing = true;
      p.log.info({ sig }, 'stopping after the current batch');
      await p.stop();
      process.exit(0);
    });
  }
}
