import { pino } from 'pino';
import { loadConfig, type Config } from '../contracts/config.js';
import { kafkaFromConfig } from '../common/kafka-client.js';
import { esFromConfig } from '../common/es-client.js';
import { DeadLetterBuffer, startConsumer } from './consumer.js';
import { processorMetrics, serveMetrics } from './metrics.js';
import { esEventsSink } from './sinks/es-events-sink.js';

/** Builds the sinks from config and starts consuming; returns a stop function. */
export async function startProcessor(overrides: Partial<Config> = {}) {
  const config = loadConfig(overrides);
  const log = pino({ level: config.logLevel, base: { service: 'processor' } });
  const metrics = processorMetrics();
  const es = esFromConfig(config);
  const deadLetters = new DeadLetterBuffer();
  const sinks = [
    esEventsSink(
      es,
      config.esIndexPrefix,
      (doc, reason) => deadLetters.push(reason, 'PR_ERR_ES_REJECTED', doc),
      (s) => metrics.bulkSeconds.observe(s),
    ),
  ];
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
  log.info({ topics: 'page_views, clicks, add_to_cart, purchases', group: config.processorGroupId }, 'processor running');
  return {
    log,
    async stop() {
      running = false;
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
