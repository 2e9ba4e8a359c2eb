/**
 * Every setting of the gateway, the processor, the demo and infra, in one table.
 * Read from the environment; the README's configuration table is generated from
 * this list (`npm run config:doc`), so a setting cannot exist without being documented.
 */

type Kind = 'string' | 'int' | 'bool' | 'list';

interface Setting<K extends Kind = Kind> {
  env: string;
  kind: K;
  default: string;
  doc: string;
  /** Which parts read it. */
  scope: 'all' | 'gateway' | 'processor' | 'infra' | 'demo';
}

const s = <K extends Kind>(env: string, kind: K, def: string, scope: Setting['scope'], doc: string): Setting<K> => ({
  env,
  kind,
  default: def,
  scope,
  doc,
});

export const SETTINGS = {
  kafkaBrokers: s('KAFKA_BROKERS', 'list', '127.0.0.1:9092', 'all', 'Kafka bootstrap servers, comma-separated.'),
  kafkaClientId: s('KAFKA_CLIENT_ID', 'string', 'clickstream', 'all', 'Client id sent to Kafka (suffixed with -gateway / -processor).'),
  kafkaSsl: s('KAFKA_SSL', 'bool', 'false', 'all', 'Use TLS to talk to Kafka.'),
  kafkaSaslMechanism: s('KAFKA_SASL_MECHANISM', 'string', '', 'all', 'plain, scram-sha-256 or scram-sha-512; empty disables SASL.'),
  kafkaSaslUsername: s('KAFKA_SASL_USERNAME', 'string', '', 'all', 'SASL user name.'),
  kafkaSaslPassword: s('KAFKA_SASL_PASSWORD', 'string', '', 'all', 'SASL password.'),
  topicPrefix: s('TOPIC_PREFIX', 'string', '', 'all', 'Prefix for every topic name (several pipelines on one cluster, or test isolation).'),
  topicPartitions: s('TOPIC_PARTITIONS', 'int', '6', 'infra', 'Partitions per event topic when the topics are created; the processor scales out up to this many instances.'),
  topicReplication: s('TOPIC_REPLICATION', 'int', '1', 'infra', 'Replication factor when the topics are created (3 in production).'),

  esUrl: s('ES_URL', 'string', 'http://127.0.0.1:9200', 'all', 'Elasticsearch URL.'),
  esUsername: s('ES_USERNAME', 'string', '', 'all', 'Elasticsearch basic-auth user (empty: none).'),
  esPassword: s('ES_PASSWORD', 'string', '', 'all', 'Elasticsearch basic-auth password.'),
  esApiKey: s('ES_API_KEY', 'string', '', 'all', 'Elasticsearch API key (takes precedence over user/password).'),
  esIndexPrefix: s('ES_INDEX_PREFIX', 'string', 'clickstream', 'all', 'Prefix of every index and template name.'),

  gatewayHost: s('GATEWAY_HOST', 'string', '127.0.0.1', 'gateway', 'Address the gateway listens on.'),
  gatewayPort: s('GATEWAY_PORT', 'int', '8080', 'gateway', 'Port the gateway listens on.'),
  gatewayBodyLimit: s('GATEWAY_BODY_LIMIT', 'int', '524288', 'gateway', 'Largest request body in bytes (413 above).'),
  gatewayMaxBatch: s('GATEWAY_MAX_BATCH', 'int', '500', 'gateway', 'Most events in one request (413 above).'),
  gatewayProduceTimeoutMs: s('GATEWAY_PRODUCE_TIMEOUT_MS', 'int', '5000', 'gateway', 'How long a request waits for Kafka before it is answered 503.'),
  gatewayRetryAfterS: s('GATEWAY_RETRY_AFTER_S', 'int', '5', 'gateway', 'Retry-After seconds sent with 503 when Kafka cannot take events.'),
  gatewayCorsOrigins: s('GATEWAY_CORS_ORIGINS', 'list', '*', 'gateway', 'Origins allowed to post events from a browser, comma-separated; * for any.'),
  logLevel: s('LOG_LEVEL', 'string', 'info', 'all', 'pino log level: fatal, error, warn, info, debug, trace, silent.'),

  processorGroupId: s('PROCESSOR_GROUP_ID', 'string', 'clickstream-processor', 'processor', 'Kafka consumer group of the processor; instances with the same id share the partitions.'),
  processorBatchSize: s('PROCESSOR_BATCH_SIZE', 'int', '2000', 'processor', 'Most events per Elasticsearch bulk request.'),
  processorMetricsHost: s('PROCESSOR_METRICS_HOST', 'string', '127.0.0.1', 'processor', 'Address of the processor\'s /healthz and /metrics.'),
  processorMetricsPort: s('PROCESSOR_METRICS_PORT', 'int', '9464', 'processor', 'Port of the processor\'s /healthz and /metrics (0 disables).'),

  dataDir: s('DATA_DIR', 'string', '.data', 'infra', 'Where Kafka and Elasticsearch keep their data and logs (project-local).'),
  kafkaPort: s('KAFKA_PORT', 'int', '9092', 'infra', 'Port of the local Kafka broker.'),
  kafkaControllerPort: s('KAFKA_CONTROLLER_PORT', 'int', '9093', 'infra', 'Port of the local KRaft controller.'),
  kafkaHeap: s('KAFKA_HEAP', 'string', '512m', 'infra', 'JVM heap of the local Kafka broker.'),
  kafkaVersion: s('KAFKA_VERSION', 'string', '3.9.1', 'infra', 'org.apache.kafka:kafka_2.13 version fetched from Maven Central.'),
  esPort: s('ES_PORT', 'int', '9200', 'infra', 'HTTP port of the local Elasticsearch node.'),
  esTransportPort: s('ES_TRANSPORT_PORT', 'int', '9300', 'infra', 'Transport port of the local Elasticsearch node.'),
  esHeap: s('ES_HEAP', 'string', '1g', 'infra', 'JVM heap of the local Elasticsearch node.'),
  esVersion: s('ES_VERSION', 'string', '8.19.21', 'infra', 'Elasticsearch version fetched from Maven Central.'),
  startTimeoutS: s('START_TIMEOUT_S', 'int', '180', 'infra', 'How long infra waits for Kafka and Elasticsearch to be healthy before it gives up.'),

  demoRate: s('DEMO_RATE', 'int', '20', 'demo', 'Events per second the demo traffic generator sends (0: none).'),
} as const;

export type SettingName = keyof typeof SETTINGS;
type ValueOf<K extends Kind> = K extends 'int' ? number : K extends 'bool' ? boolean : K extends 'list' ? string[] : string;
export type Config = { [N in SettingName]: ValueOf<(typeof SETTINGS)[N]['kind']> };

export class ConfigError extends Error {}

function parse(setting: Setting, raw: string): number | boolean | string[] | string {
  switch (setting.kind) {
    case 'int': {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${setting.env} must be a non-negative integer, got "${raw}"`);
      return n;
    }
    case 'bool':
      if (!/^(true|false|1|0|yes|no)$/i.test(raw)) throw new ConfigError(`${setting.env} must be true or false, got "${raw}"`);
      return /^(true|1|yes)$/i.test(raw);
    case 'list':
      return raw
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
    default:
      return raw;
  }
}

/** Reads every setting from `env` (process.env by default), with `overrides` winning. */
export function loadConfig(overrides: Partial<Config> = {}, env: Record<string, string | undefined> = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, Setting][]) {
    out[name] = name in overrides ? overrides[name] : parse(setting, env[setting.env] ?? setting.default);
  }
  return out as Config;
}

/** Markdown table of every setting, for the README. */
export function configTable(): string {
  const rows = Object.values(SETTINGS).map(
    (x: Setting) => `| \`${x.env}\` | \`${x.default || '(empty)'}\` | ${x.scope} | ${x.doc} |`,
  );
  return ['| Variable | Default | Used by | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
