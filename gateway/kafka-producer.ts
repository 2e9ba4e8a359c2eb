import type { Logger } from 'pino';
import { ConfigError, type Config } from '../contracts/config.js';
import type { EventProducer, OutRecord } from './event-producer.js';
import type { KafkaDriver, ProducerSession } from './kafka-driver.js';
import { KAFKAJS_COMPRESSIONS } from '../common/kafka-codecs.js';
import { kafkajsDriver } from './kafkajs-driver.js';
import { platformaticDriver } from './platformatic-driver.js';
import { pooledDriver } from './producer-pool.js';

/** The Kafka client library GATEWAY_KAFKA_CLIENT names. */
const COMPRESSIONS: Record<string, readonly string[]> = { platformatic: ['none', 'gzip', 'snappy', 'lz4', 'zstd'], kafkajs: KAFKAJS_COMPRESSIONS };

export function kafkaDriver(cfg: Config, log: Logger, client = cfg.gatewayKafkaClient): KafkaDriver {
  const allowed = COMPRESSIONS[client];
  if (allowed && !allowed.includes(cfg.gatewayKafkaCompression)) {
    throw new ConfigError(`GATEWAY_KAFKA_COMPRESSION must be one of ${allowed.join(', ')} with GATEWAY_KAFKA_CLIENT=${client}, got "${cfg.gatewayKafkaCompression}"`);
  }
  if (client === 'platformatic') return platformaticDriver(cfg, log);
  if (client === 'kafkajs') return kafkajsDriver(cfg, log);
  throw new Error(`GATEWAY_KAFKA_CLIENT must be platformatic or kafkajs, got "${client}"`);
}

/**
 * An idempotent producer with acks=all (the client library is the driver's), one send per group of
 * requests.
 *
 * Availability: unavailable until the first connection succeeds; marked unavailable when a
 * send fails or takes longer than GATEWAY_PRODUCE_TIMEOUT_MS, so requests get a quick 503
 * instead of queueing behind a dead or stalled broker. A probe then asks Kafka for metadata
 * every second; once it answers, a fresh producer (new producer id, so no stale sequence
 * numbers from sends that were cut off) takes over and requests flow again: the gateway
 * recovers by itself, without a restart.
 */
export function kafkaProducer(cfg: Config, log: Logger, driver: KafkaDriver = pooledDriver(kafkaDriver(cfg, log), cfg.gatewayKafkaSendsInFlight)): EventProducer {
  let producer: ProducerSession = driver.create();
  let connected: Promise<void> | null = null;
  /** Sends still waiting on each producer: a replaced producer is closed only once they settle. */
  const sending = new Map<ProducerSession, number>();
  const retired = new Set<ProducerSession>();
  const retire = (p: ProducerSession) => {
    if ((sending.get(p) ?? 0) === 0) void p.close().catch(() => undefined);
    else {
      retired.add(p);
      // Never keep a dead client forever: its sends have long been answered 503 by then.
      setTimeout(() => {
        if (retired.delete(p)) void p.close().catch(() => undefined);
      }, 60_000).unref();
    }
  };
  let available = false;
  let probe: NodeJS.Timeout | null = null;
  let probing = false;
  let closed = false;

  const connect = () => {
    connected ??= producer.connect().catch((err: unknown) => {
      connected = null;
      throw err;
    });
    return connected;
  };

  const markDown = (err: unknown) => {
    if (closed) return;
    if (available) log.warn({ err: err instanceof Error ? err.message : String(err) }, 'kafka unavailable; answering 503 until it is back');
    available = false;
    probe ??= setInterval(() => void tryRecover(), 1000);
    probe.unref();
  };

  const tryRecover = async () => {
    if (probing || closed) return;
    probing = true;
    let fresh: ProducerSession | null = null;
    try {
      await driver.probe();
      fresh = driver.create();
      await fresh.connect();
      const old = producer;
      producer = fresh;
      connected = Promise.resolve();
      fresh = null;
      // Sends cut off by the outage may still be answered (a stalled broker resumes): let them
      // finish, so their acknowledgements reach dedup and a retry is not written twice.
      retire(old);
      if (closed) return;
      available = true;
      log.info('kafka available again');
      if (probe) clearInterval(probe);
      probe = null;
    } catch {
      // still down; the next tick tries again
      if (fresh) void fresh.close().catch(() => undefined);
    } finally {
      probing = false;
    }
  };

  connect().then(
    () => {
      if (closed) return;
      available = true;
      log.info({ brokers: cfg.kafkaBrokers, client: cfg.gatewayKafkaClient }, 'connected to kafka');
    },
    (err: unknown) => {
      log.warn({ err: (err as Error).message, brokers: cfg.kafkaBrokers }, 'kafka not reachable at start; answering 503 until it is');
      markDown(err);
    },
  );

  return {
    async send(records: OutRecord[]) {
      if (closed) throw new Error('producer closed');
      // A send still unanswered after the produce timeout means Kafka is down or stalled.
      const watchdog = setTimeout(() => markDown(new Error(`no acknowledgement within ${cfg.gatewayProduceTimeoutMs} ms`)), cfg.gatewayProduceTimeoutMs);
      const p = producer;
      sending.set(p, (sending.get(p) ?? 0) + 1);
      try {
        await connect();
        await p.send(records);
      } catch (err) {
        markDown(err);
        throw err;
      } finally {
        clearTimeout(watchdog);
        const left = (sending.get(p) ?? 1) - 1;
        if (left > 0) sending.set(p, left);
        else {
          sending.delete(p);
          if (retired.delete(p)) void p.close().catch(() => undefined);
        }
      }
    },
    isAvailable: () => available,
    async close() {
      closed = true;
      available = false;
      if (probe) clearInterval(probe);
      probe = null;
      await Promise.all([producer, ...retired].map((p) => p.close().catch(() => undefined)));
    },
  };
}
