/**
 * npm run infra         start Kafka and Elasticsearch, print where, stop cleanly on Ctrl-C / SIGTERM
 * npm run infra:fetch   only fetch them from Maven Central into .cache/ (CI runs this first)
 * npm run infra:setup   only create the topics and index templates on KAFKA_BROKERS / ES_URL
 *                       (an external cluster: TLS, SASL and ES auth come from the usual settings)
 * npm run es:migrate    bring KPI and session indices that kept revenue as one number to revenue
 *                       per currency (infra/migrate-indices.ts; processors stopped)
 */
import { esFromConfig } from '../common/es-client.js';
import { migrateIndices } from './migrate-indices.js';
import { loadConfig } from '../common/config.js';
import { fetchAll } from './fetch.js';
import { startServices, type RunningServices } from './services.js';
import { installTemplates } from './setup-indices.js';
import { ensureTopics } from './setup-topics.js';

const log = (msg: string) => console.log(`[infra] ${msg}`);

async function main(command: string): Promise<void> {
  const cfg = loadConfig();
  switch (command) {
    case 'fetch': {
      const t0 = Date.now();
      const { kafka, elasticsearch } = await fetchAll({ kafka: cfg.kafkaVersion, elasticsearch: cfg.esVersion }, log);
      log(`Kafka ${kafka.version}: ${kafka.classpath.length} jars; Elasticsearch ${elasticsearch.version}: ${elasticsearch.home} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      return;
    }
    case 'setup': {
      const [topics, templates] = await Promise.all([
        ensureTopics(cfg.kafkaBrokers, { log }),
        installTemplates(cfg.esUrl, cfg.esIndexPrefix, { log }),
      ]);
      log(`topics on ${cfg.kafkaBrokers.join(',')}: ${topics.topics.map((t) => `${t.topic} (${t.partitions})`).sort().join(', ')}`);
      log(`index templates on ${cfg.esUrl}: ${templates.join(', ')}`);
      return;
    }
    case 'migrate': {
      const es = esFromConfig(cfg);
      try {
        for (const r of await migrateIndices(es, cfg.esUrl, cfg.esIndexPrefix, log)) log(`${r.index}: ${r.state === 'migrated' ? `migrated, ${r.documents} documents` : r.state === 'current' ? `already per currency (${r.documents} documents)` : 'no such index'}`);
      } finally {
        await es.close();
      }
      return;
    }
    case 'start': {
      const running: { services?: RunningServices } = {};
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log(`${signal}: stopping Kafka and Elasticsearch...`);
        const t0 = Date.now();
        await running.services?.stop();
        log(`stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        process.exit(0);
      };
      // Registered before the services start, so a Ctrl-C during start-up also stops cleanly.
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
      const services = await startServices({ config: cfg, log });
      running.services = services;
      if (stopping) {
        await services.stop();
        return;
      }
      console.log(`
  Kafka           ${services.kafkaBrokers.join(',')}   (KRaft, ${services.kafkaNodes.length} node(s), pid ${services.kafkaNodes.map((n) => n.pid).join(', ')}, log ${services.kafka.logFile})${
        services.kafkaClient.kafkaSsl
          ? `\n                  TLS + SASL/SCRAM only: KAFKA_SSL=true KAFKA_SSL_CA_FILE=${services.kafkaClient.kafkaSslCaFile} KAFKA_SASL_MECHANISM=scram-sha-512 KAFKA_SASL_USERNAME=${services.kafkaClient.kafkaSaslUsername}`
          : ''
      }
  Elasticsearch   ${services.esUrl}   (pid ${services.elasticsearch.pid}, log ${services.elasticsearch.logFile})
  Topics          ${[...services.topics].sort().join(', ')}
  Index templates ${services.templates.join(', ')}
  Data            ${services.dataDir}

  Ctrl-C stops both.
`);
      return;
    }
    default:
      throw new Error(`unknown command "${command}" (start, fetch, setup or migrate)`);
  }
}

main(process.argv[2] ?? 'start').catch((err) => {
  console.error(`[infra] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
