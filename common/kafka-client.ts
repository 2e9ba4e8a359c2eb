import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { Config } from '../contracts/config.js';
import type { Logger } from 'pino';
// kafkajs reads and writes lz4 and zstd batches only with these codecs registered.
import './kafka-codecs.js';

const TRANSIENT =
  /rebalanc|coordinator is loading|coordinator is not available|not the correct coordinator|Restarting the consumer|leadership election|not the leader/i;

// Our producers either name their partitioner or do not care which one is used.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

export type KafkaClientSettings = Pick<Config, 'kafkaBrokers' | 'kafkaClientId' | 'kafkaSsl' | 'kafkaSslCaFile' | 'kafkaSaslMechanism' | 'kafkaSaslUsername' | 'kafkaSaslPassword'>;

/**
 * The certificates KAFKA_SSL_CA_FILE names, read once per client (undefined: the system's CAs).
 * A missing or unreadable file is a configuration error, reported with the setting's name.
 */
export function kafkaCa(cfg: Pick<Config, 'kafkaSsl' | 'kafkaSslCaFile'>): Buffer[] | undefined {
  if (!cfg.kafkaSslCaFile) return undefined;
  if (!cfg.kafkaSsl) throw new Error('KAFKA_SSL_CA_FILE is set but KAFKA_SSL is false: set KAFKA_SSL=true to use TLS');
  try {
    return [readFileSync(cfg.kafkaSslCaFile)];
  } catch (err) {
    throw new Error(`KAFKA_SSL_CA_FILE ${cfg.kafkaSslCaFile} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/** One way to build a kafkajs client from config, used by gateway, processor, infra and tests. */
export function kafkaFromConfig(
  cfg: KafkaClientSettings,
  role: string,
  log?: Logger,
  extra: Partial<KafkaConfig> = {},
): Kafka {
  let sasl: SASLOptions | undefined;
  if (cfg.kafkaSaslMechanism) {
    const mechanism = cfg.kafkaSaslMechanism.toLowerCase();
    if (mechanism !== 'plain' && mechanism !== 'scram-sha-256' && mechanism !== 'scram-sha-512') {
      throw new Error(`KAFKA_SASL_MECHANISM must be plain, scram-sha-256 or scram-sha-512, got "${cfg.kafkaSaslMechanism}"`);
    }
    sasl = { mechanism, username: cfg.kafkaSaslUsername, password: cfg.kafkaSaslPassword } as SASLOptions;
  }
  return new Kafka({
    clientId: `${cfg.kafkaClientId}-${role}`,
    brokers: cfg.kafkaBrokers,
    ssl: cfg.kafkaSsl ? (kafkaCa(cfg) ? { ca: kafkaCa(cfg) } : true) : false,
    sasl,
    connectionTimeout: 2000,
    requestTimeout: 10000,
    logLevel: logLevel.WARN,
    // kafkajs logs through its own logger; route it into pino so there is one log stream.
    logCreator: () => (entry) => {
      if (!log) return;
      const { message, ...rest } = entry.log;
      const fields = { kafka: entry.namespace, ...rest };
      // kafkajs reports the ordinary life of a group (rebalances, a coordinator still loading after
      // a broker restart) as errors; they are retried by kafkajs itself, so they are debug here.
      if (TRANSIENT.test(`${message} ${String((rest as { error?: unknown }).error ?? '')}`)) log.debug(fields, message);
      else if (entry.level <= logLevel.ERROR) log.error(fields, message);
      else if (entry.level === logLevel.WARN) log.warn(fields, message);
      else log.debug(fields, message);
    },
    ...extra,
  });
}
