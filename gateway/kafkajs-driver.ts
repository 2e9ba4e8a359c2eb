import { CompressionTypes, Partitioners } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../contracts/config.js';
import { kafkaFromConfig } from '../common/kafka-client.js';
import type { OutRecord } from './event-producer.js';
import type { KafkaDriver } from './kafka-driver.js';

/** kafkajs's idempotent producer (acks=all, one sendBatch per group). Kept for comparison and as a fallback. */
export function kafkajsDriver(cfg: Config, log: Logger): KafkaDriver {
  const compression = ({ gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD } as Record<string, CompressionTypes>)[cfg.gatewayKafkaCompression] ?? CompressionTypes.None;
  const kafka = kafkaFromConfig(cfg, 'gateway', log, { retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 } });
  // The probe's own client logs nothing: an outage is logged once, not six lines a second.
  const quiet = kafkaFromConfig(cfg, 'gateway-probe', undefined, { retry: { retries: 0 } });
  return {
    create() {
      // The Java client's partitioner (murmur2 of the key), named so kafkajs does not warn about its default.
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
      return {
        connect: () => producer.connect(),
        async send(records: OutRecord[]) {
          const byTopic = new Map<string, { key: string; value: string }[]>();
          for (const r of records) {
            let list = byTopic.get(r.topic);
            if (!list) byTopic.set(r.topic, (list = []));
            list.push({ key: r.key, value: r.value });
          }
          await producer.sendBatch({ acks: -1, compression, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
        },
        close: () => producer.disconnect(),
      };
    },
    async probe() {
      const admin = quiet.admin();
      try {
        await admin.connect();
        await admin.fetchTopicMetadata({ topics: [] });
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
  };
}
