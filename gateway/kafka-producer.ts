import { CompressionTypes, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../contracts/config.js';
import { kafkaFromConfig } from '../common/kafka-client.js';
import type { EventProducer, OutRecord } from './event-producer.js';

export class ProduceTimeoutError extends Error {}

/**
 * kafkajs idempotent producer with acks=all. When a send fails the producer is marked
 * unavailable, so requests get a quick 503 instead of queueing behind a dead broker; a
 * background probe reconnects and marks it available again.
 */
export function kafkaProducer(cfg: Config, log: Logger): EventProducer {
  const kafka = kafkaFromConfig(cfg, 'gateway', log, { retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 } });
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false });
  let connected: Promise<void> | null = null;
  let available = true;
  let probe: NodeJS.Timeout | null = null;
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
    if (available) log.warn({ err }, 'kafka unavailable; answering 503 until it is back');
    available = false;
    if (probe) return;
    probe = setInterval(async () => {
      try {
        const admin = kafka.admin();
        await admin.connect();
        await admin.fetchTopicMetadata({ topics: [] });
        await admin.disconnect();
        await connect();
        available = true;
        log.info('kafka available again');
        if (probe) clearInterval(probe);
        probe = null;
      } catch {
        // still down; the next tick tries again
      }
    }, 1000);
    probe.unref();
  };

  return {
    async send(records: OutRecord[]) {
      const byTopic = new Map<string, { key: string; value: string }[]>();
      for (const r of records) {
        let list = byTopic.get(r.topic);
        if (!list) byTopic.set(r.topic, (list = []));
        list.push({ key: r.key, value: r.value });
      }
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          (async () => {
            await connect();
            await producer.sendBatch({
              acks: -1,
              compression: CompressionTypes.None,
              topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
            });
          })(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new ProduceTimeoutError(`no ack from Kafka within ${cfg.gatewayProduceTimeoutMs} ms`)), cfg.gatewayProduceTimeoutMs);
          }),
        ]);
      } catch (err) {
        markDown(err);
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },
    isAvailable: () => available,
    async close() {
      closed = true;
      if (probe) clearInterval(probe);
      await producer.disconnect().catch(() => undefined);
    },
  };
}
