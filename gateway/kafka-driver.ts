import type { OutRecord } from './event-producer.js';

/**
 * One Kafka client library seen from gateway/kafka-producer.ts, which keeps what does not depend
 * on the library (availability, the outage probe, replacing a producer after an outage). Two
 * implementations: kafkajs (gateway/kafkajs-driver.ts) and @platformatic/kafka
 * (gateway/platformatic-driver.ts); GATEWAY_KAFKA_CLIENT picks one.
 */
export interface KafkaDriver {
  /** Called at start and after each outage: a new idempotent producer (new producer id, no stale sequence numbers). */
  create(): ProducerSession;
  /** Called every second while Kafka is thought down; resolves once a broker answers a metadata request. Logs nothing. */
  probe(): Promise<void>;
}

export interface ProducerSession {
  /** Called once before the first send of this session (and by the probe on a fresh session); rejects while no broker answers. */
  connect(): Promise<void>;
  /** Called per group of requests (gateway/coalescing-producer.ts); resolves once every record is acknowledged with acks=all. */
  send(records: OutRecord[]): Promise<void>;
  /** Called once the session is replaced or the gateway closes, after its sends settled (or gave up). */
  close(): Promise<void>;
}
