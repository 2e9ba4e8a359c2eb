import { Admin, Producer, ProduceAcks, type CompressionAlgorithmValue, compatibilityPartitioner, createRecordsBatch, type MessageToProduce, type SASLOptions } from '@platformatic/kafka';
import type { Logger } from 'pino';
import type { Config } from '../contracts/config.js';
import { kafkaCa, type KafkaClientSettings } from '../common/kafka-client.js';
import type { OutRecord } from './event-producer.js';
import type { KafkaDriver } from './kafka-driver.js';

type KafkaSettings = KafkaClientSettings;

const SASL_MECHANISMS = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const;

/** KAFKA_SSL and KAFKA_SASL_* as @platformatic/kafka's connection options (the same meaning as for kafkajs in common/kafka-client.ts). */
export function platformaticConnection(cfg: KafkaSettings) {
  let sasl: SASLOptions | undefined;
  if (cfg.kafkaSaslMechanism) {
    const mechanism = SASL_MECHANISMS[cfg.kafkaSaslMechanism.toLowerCase() as keyof typeof SASL_MECHANISMS];
    if (!mechanism) throw new Error(`KAFKA_SASL_MECHANISM must be plain, scram-sha-256 or scram-sha-512, got "${cfg.kafkaSaslMechanism}"`);
    sasl = { mechanism, username: cfg.kafkaSaslUsername, password: cfg.kafkaSaslPassword };
  }
  return {
    bootstrapBrokers: cfg.kafkaBrokers,
    // TLS with the system's CAs (or KAFKA_SSL_CA_FILE's) and SNI set to the broker's host name, as kafkajs does.
    ...(cfg.kafkaSsl ? { tls: { ca: kafkaCa(cfg) }, tlsServerName: true } : {}),
    ...(sasl ? { sasl } : {}),
  };
}

/**
 * Kafka's murmur2 of the key's UTF-8 bytes, made positive, as Java's and kafkajs's default
 * partitioners compute it (a visitor keeps its partition whichever client wrote it);
 * @platformatic/kafka's own default differs (no mask).
 */
export function keyHash(key: Buffer): number {
  return compatibilityPartitioner({ topic: '', key }, key);
}

/** The partition a key goes to among `partitions`: its hash modulo the count, as the producer below does. */
export function partitionOf(key: string, partitions: number): number {
  return keyHash(Buffer.from(key)) % partitions;
}

/**
 * Whether the installed client writes string values as their UTF-8 bytes (the patch in patches/).
 * Without it a string value would be written as garbage, silently: then values go as Buffers.
 */
export function clientWritesStrings(): boolean {
  try {
    const batch = createRecordsBatch([{ topic: 't', partition: 0, key: null, value: 'é€', timestamp: 0n }] as never).buffer;
    // The record ends with the value's length (varint of 5), its 5 UTF-8 bytes and no headers.
    return batch.subarray(batch.length - 7).equals(Buffer.from([0x0a, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0x00]));
  } catch {
    return false;
  }
}

let stringsChecked: boolean | undefined;
const writesStrings = () => (stringsChecked ??= clientWritesStrings());

/**
 * @platformatic/kafka's idempotent producer (acks=all, producer id per session; the client encodes
 * records about 3x faster than kafkajs: see bench/README.md). One `send` per group of requests;
 * the client splits it by partition leader.
 *
 * The messages go to the client with keys as Buffers and `partition` set to the key's hash (the
 * client takes it modulo the topic's partition count, as it does with a partitioner's answer): the
 * records of a request share their visitor's key, so its Buffer and its murmur2 (BigInt arithmetic
 * in the client) are computed once per run of equal keys, not per record. Values go as the enriched
 * JSON strings: the patched client (patches/README.md) writes their UTF-8 straight into the record
 * batch, where a Buffer per value cost an encoding pass, an allocation and a copy per record.
 */
export function platformaticDriver(cfg: Config, log: Logger): KafkaDriver {
  const connection = platformaticConnection(cfg);
  const base = {
    ...connection,
    connectTimeout: 2000,
    // A stalled broker is noticed by kafka-producer.ts's watchdog (GATEWAY_PRODUCE_TIMEOUT_MS); this only frees the request.
    requestTimeout: 10_000,
    timeout: 10_000,
    // Few, quick retries: an outage is answered 503 and probed, not retried for minutes inside the client.
    retries: 2,
    retryDelay: 100,
    metadataMaxAge: 60_000,
  };
  return {
    create() {
      const producer = new Producer<Buffer, Buffer | string, Buffer, Buffer>({
        ...base,
        clientId: `${cfg.kafkaClientId}-gateway`,
        idempotent: true,
        acks: ProduceAcks.ALL,
        autocreateTopics: false,
        compression: cfg.gatewayKafkaCompression as CompressionAlgorithmValue,
        // Only for messages without a partition; send() below sets it on every message.
        partitioner: compatibilityPartitioner,
      });
      producer.on('error', (err: Error) => log.debug({ err: err.message }, 'kafka client error'));
      const strings = writesStrings();
      if (!strings) log.warn('@platformatic/kafka is installed without its patch (patches/README.md): values are copied into Buffers first, which costs CPU');
      return {
        async connect() {
          await producer.metadata({ topics: [] });
          await producer.initIdempotentProducer({ idempotent: true, acks: ProduceAcks.ALL });
        },
        async send(records: OutRecord[]) {
          const messages = new Array<MessageToProduce<Buffer, Buffer | string, Buffer, Buffer>>(records.length);
          let key = '';
          let keyBytes: Buffer | undefined;
          let hash = 0;
          for (let i = 0; i < records.length; i++) {
            const r = records[i];
            if (keyBytes === undefined || r.key !== key) {
              key = r.key;
              keyBytes = Buffer.from(key);
              hash = keyHash(keyBytes);
            }
            messages[i] = { topic: r.topic, key: keyBytes, value: strings ? r.value : Buffer.from(r.value), partition: hash };
          }
          await producer.send({ messages });
        },
        close: () => producer.close(true),
      };
    },
    async probe() {
      const admin = new Admin({ ...base, clientId: `${cfg.kafkaClientId}-gateway-probe`, retries: 0 });
      try {
        await admin.metadata({ topics: [] });
      } finally {
        await admin.close().catch(() => undefined);
      }
    },
  };
}
