import { CompressionTypes, Partitioners, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../contracts/config.js';
import { kafkaFromConfig } from '../common/kafka-client.js';
import type { EventProducer, OutRecord } from './event-producer.js';

/**
 * kafkajs idempotent producer with acks=all, one sendBatch per request.
 *
 * Availability: unavailable until the first connection succeeds; marked unavailable when a
 * send fails or takes longer than GATEWAY_PRODUCE_TIMEOUT_MS, so requests get a quick 503
 * instead of queueing behind a dead or stalled broker. A probe then asks Kafka for metadata
 * every second; once it answers, a fresh producer (new producer id, so no stale sequence
 * numbers from sends that were cut off) takes over and requests flow again: the gateway
 * recovers by itself, without a restart.
 */
export function kafkaProducer(cfg: Config, log: Logger): EventProducer {
  const kafka = kafkaFromConfig(cfg, 'gateway', log, { retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 } });
  // The probe's own client logs nothing: an outage is logged once, not six lines a second.
  const quiet = kafkaFromConfig(cfg, 'gateway-probe', undefined, { retry: { retries: 0 } });
  // The Java client's partitioner (murmur2 of the key), named so kafkajs does not warn about its default.
  const make = () =>
    kafka.producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  let producer: Producer = make();
  let connected: Promise<void> | null = null;
  /** Sends still waiting on each producer: a replaced producer is disconnected only once they settle. */
  const sending = new Map<Producer, number>();
  const retired = new Set<Producer>();
  const retire = (p: Producer) => {
    if ((sending.get(p) ?? 0) === 0) void p.disconnect().catch(() => undefined);
    else {
      retired.add(p);
      // Never keep a dead client forever: its sends have long been answered 503 by then.
      setTimeout(() => {
        if (retired.delete(p)) void p.disconnect().catch(() => undefined);
      }, 60_000).unref();
    }
  };
  let available = false;
  let probe: NodeJS.Timeout | null = null;
  let probing = false;
  let closed = false;

  const connect = () => {
    connected ??= producer.connect().catch((err) => {
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
    const admin = quiet.admin();
    let fresh: Producer | null = null;
    try {
      await admin.connect();
      await admin.fetchTopicMetadata({ topics: [] });
      fresh = make();
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
      if (fresh) void fresh.disconnect().catch(() => undefined);
    } finally {
      await admin.disconnect().catch(() => undefined);
      probing = false;
    }
  };

  connect().then(
    () => {
      if (closed) return;
      available = true;
      log.info({ brokers: cfg.kafkaBrokers }, 'connected to kafka');
    },
    (err) => {
      log.warn({ err: (err as Error).message, brokers: cfg.kafkaBrokers }, 'kafka not reachable at start; answering 503 until it is');
      markDown(err);
    },
  );

  return {
    async send(records: OutRecord[]) {
      if (closed) throw new Error('producer closed');
      const byTopic = new Map<string, { key: string; value: string }[]>();
      for (const r of records) {
        let list = byTopic.get(r.topic);
        if (!list) byTopic.set(r.topic, (list = []));
        list.push({ key: r.key, value: r.value });
      }
      // A send still unanswered after the produce timeout means Kafka is down or stalled.
      const watchdog = setTimeout(() => markDown(new Error(`no acknowledgement within ${cfg.gatewayProduceTimeoutMs} ms`)), cfg.gatewayProduceTimeoutMs);
      const p = producer;
      sending.set(p, (sending.get(p) ?? 0) + 1);
      try {
        await connect();
        await p.sendBatch({
          acks: -1,
          compression: CompressionTypes.None,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
      } catch (err) {
        markDown(err);
        throw err;
      } finally {
        clearTimeout(watchdog);
        const left = (sending.get(p) ?? 1) - 1;
        if (left > 0) sending.set(p, left);
        else {
          sending.delete(p);
          if (retired.delete(p)) void p.disconnect().catch(() => undefined);
        }
      }
    },
    isAvailable: () => available,
    async close() {
      closed = true;
      available = false;
      if (probe) clearInterval(probe);
      probe = null;
      await Promise.all([producer, ...retired].map((p) => p.disconnect().catch(() => undefined)));
    },
  };
}
