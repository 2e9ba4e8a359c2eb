import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { Client } from '@elastic/elasticsearch';

export { waitFor } from '../../common/wait.js';

/** A name unique to this test run, so tests sharing one Kafka and one Elasticsearch never see each other's data. */
export const unique = (what: string) => `t${randomBytes(4).toString('hex')}_${what}`;

export async function esCount(es: Client, index: string): Promise<number> {
  await es.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true });
  const r = await es.count({ index, allow_no_indices: true, ignore_unavailable: true });
  return r.count;
}

/** Reads every message of a topic from the beginning until `count` have arrived (or the timeout). */
export async function readTopic(brokers: string[], topic: string, count: number, timeoutMs = 30_000): Promise<{ key: string | null; value: string; partition: number }[]> {
  const kafka = new Kafka({ clientId: 'test-reader', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: unique('reader') });
  const out: { key: string | null; value: string; partition: number }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      out.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? '', partition });
      if (out.length >= count) done();
    },
  });
  await Promise.race([finished, new Promise((r) => setTimeout(r, timeoutMs))]);
  await consumer.disconnect();
  return out;
}
