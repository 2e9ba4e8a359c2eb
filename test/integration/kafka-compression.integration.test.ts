/**
 * GATEWAY_KAFKA_COMPRESSION: the gateway's record batches compressed on the wire and on disk with
 * each client library, and read back by kafkajs the way the processor reads (common/kafka-client.ts
 * registers the lz4 and zstd codecs kafkajs lacks). Real broker; one topic per case; the broker's
 * own log size says the batches really are compressed.
 */
import { Admin } from '@platformatic/kafka';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { loadConfig } from '../../common/config.js';
import { kafkaFromConfig } from '../../common/kafka-client.js';
import { kafkaDriver } from '../../gateway/kafka-producer.js';
import type { OutRecord } from '../../gateway/event-producer.js';
import { unique } from './helpers.js';

const brokers = inject('kafkaBrokers');
const cfg = loadConfig({ kafkaBrokers: brokers });
const log = pino({ level: 'silent' });
const CASES = [
  ['platformatic', 'none'],
  ['platformatic', 'lz4'],
  ['platformatic', 'zstd'],
  ['platformatic', 'snappy'],
  ['kafkajs', 'snappy'],
  ['kafkajs', 'lz4'],
  ['kafkajs', 'zstd'],
] as const;
const topics = new Map(CASES.map(([client, c]) => [`${client}+${c}`, unique(`compress_${client}_${c}`)]));
const admin = kafkaFromConfig(cfg, 'test-admin').admin();

/**
 * 400 records shaped like enriched events (mostly repeated text, as real ones are), each distinct,
 * with multi-byte characters (the values go to the client as strings, written as UTF-8 into the
 * batch), over 64 KB in all (a produce request written to the socket as its chunks).
 */
const records = (topic: string): OutRecord[] =>
  Array.from({ length: 400 }, (_, i) => ({
    topic,
    key: `v_${i % 37}`,
    value: JSON.stringify({ event_id: `e${i}`, event_type: 'page_view', url: `https://shop.example/p/${i % 50}?utm_source=news`, browser: 'Chrome', os: 'Windows', device_type: 'desktop', country: 'DE', n: i, title: `Äpfel & Birnen – 🙂 ${i} `.repeat(8) }),
  }));

beforeAll(async () => {
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [...topics.values()].map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })) });
}, 60_000);
afterAll(async () => {
  await admin.deleteTopics({ topics: [...topics.values()] }).catch(() => undefined);
  await admin.disconnect();
});

async function logSize(topic: string): Promise<number> {
  const a = new Admin({ clientId: 'test-logdirs', bootstrapBrokers: brokers });
  try {
    const dirs = await a.describeLogDirs({ topics: [{ name: topic, partitions: [0] }] });
    let n = 0;
    for (const b of dirs) for (const r of b.results) for (const t of r.topics) for (const p of t.partitions) if (t.name === topic) n += Number(p.partitionSize);
    return n;
  } finally {
    await a.close();
  }
}

async function readAll(topic: string, count: number): Promise<string[]> {
  const consumer = kafkaFromConfig(cfg, 'test-reader').consumer({ groupId: unique('reader') });
  const out: string[] = [];
  const errors: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    consumer.on(consumer.events.CRASH, (e) => errors.push(String(e.payload.error)));
    await consumer.run({
      eachMessage: async ({ message }) => {
        out.push(message.value?.toString() ?? '');
        if (out.length >= count) done();
      },
    });
    await Promise.race([finished, new Promise((r) => setTimeout(r, 30_000))]);
  } finally {
    await consumer.disconnect();
  }
  expect(errors).toEqual([]);
  return out;
}

describe('GATEWAY_KAFKA_COMPRESSION', () => {
  const sizes = new Map<string, number>();
  test.each(CASES)('%s with %s: every record read back by kafkajs as written', async (client, compression) => {
    const topic = topics.get(`${client}+${compression}`)!;
    const session = kafkaDriver({ ...cfg, gatewayKafkaCompression: compression }, log, client).create();
    await session.connect();
    const sent = records(topic);
    try {
      await session.send(sent);
    } finally {
      await session.close();
    }
    expect(await readAll(topic, sent.length)).toEqual(sent.map((r) => r.value));
    sizes.set(`${client}+${compression}`, await logSize(topic));
  }, 90_000);

  test('compressed batches take far less of the broker\'s disk than uncompressed ones', () => {
    const none = sizes.get('platformatic+none')!;
    expect(none).toBeGreaterThan(400 * 300);
    for (const [k, size] of sizes) if (k !== 'platformatic+none') expect(size, k).toBeLessThan(none / 3);
  });

  test('an unknown compression is refused at start, with the setting named', () => {
    expect(() => kafkaDriver({ ...cfg, gatewayKafkaCompression: 'brotli' }, log, 'kafkajs')).toThrow(/GATEWAY_KAFKA_COMPRESSION must be one of none, gzip, snappy, lz4, zstd with GATEWAY_KAFKA_CLIENT=kafkajs, got "brotli"/);
    expect(() => kafkaDriver({ ...cfg, gatewayKafkaCompression: 'brotli' }, log, 'platformatic')).toThrow(/GATEWAY_KAFKA_COMPRESSION/);
  });
});
