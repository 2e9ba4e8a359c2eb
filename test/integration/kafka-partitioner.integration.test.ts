/**
 * A visitor must land on the same partition whichever client wrote its events: the processor's
 * visitor-level state and existing topics depend on it. The gateway's partition function (the
 * one @platformatic/kafka is given) and kafkajs's default partitioner are compared with Kafka's
 * own Java partitioner (BuiltInPartitioner.partitionForKey, run with `java` on the Kafka jars of
 * .cache) for 10,000 keys: visitor ids as the SDK makes them, random ASCII, and non-ASCII text.
 * Then the gateway's producer itself (it hands the client each key's hash, computed once per run
 * of equal keys) writes to a real topic of 3 partitions, and every record is read back from the
 * partition the Java partitioner names.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, inject, test } from 'vitest';
import { loadConfig } from '../../common/config.js';
import { fetchKafka } from '../../infra/fetch.js';
import type { OutRecord } from '../../gateway/event-producer.js';
import { kafkaDriver } from '../../gateway/kafka-producer.js';
import { partitionOf } from '../../gateway/platformatic-driver.js';
import { readTopic, unique } from './helpers.js';

const COUNTS = [1, 3, 6, 7, 12, 64];

/** Deterministic keys of every kind a client could send (no line breaks: one key per line to Java). */
function keys(n: number): string[] {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const pick = (alphabet: string[], len: number) => Array.from({ length: len }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
  const ascii = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i));
  const wide = ['é', 'ß', 'ж', '中', '文', '🙂', '🚀', 'ü', 'ñ', 'a', 'Z', '0', ' '];
  const out = [''];
  while (out.length < n) {
    const kind = out.length % 4;
    if (kind === 0) out.push(randomUUID());
    else if (kind === 1) out.push(`v_${Math.floor(rnd() * 1e12).toString(36)}`);
    else if (kind === 2) out.push(pick(ascii, 1 + Math.floor(rnd() * 40)));
    else out.push(pick(wide, 1 + Math.floor(rnd() * 12)));
  }
  return out;
}

/** Kafka's Java partitioner's answer for each key (a row per key, a column per partition count). */
async function javaPartitions(list: string[], counts: number[]): Promise<number[][]> {
  const { classpath } = await fetchKafka(loadConfig().kafkaVersion);
  const javaOut = execFileSync('java', ['-cp', classpath.join(path.delimiter), path.join(import.meta.dirname, 'java', 'KeyPartitions.java'), ...counts.map(String)], {
    input: list.join('\n') + '\n',
    maxBuffer: 64 * 1024 * 1024,
  }).toString('utf8');
  return javaOut.trimEnd().split('\n').map((l) => l.split(' ').map(Number));
}

describe('key -> partition', () => {
  test('the gateway and kafkajs put 10,000 keys where Kafka\'s Java producer does', async () => {
    const list = keys(10_000);
    const javaRows = await javaPartitions(list, COUNTS);
    expect(javaRows).toHaveLength(list.length);

    const kafkajs = Partitioners.DefaultPartitioner();
    let compared = 0;
    const mismatches: string[] = [];
    list.forEach((key, i) => {
      COUNTS.forEach((n, j) => {
        const java = javaRows[i][j];
        const ours = partitionOf(key, n);
        const partitionMetadata = Array.from({ length: n }, (_, p) => ({ partitionId: p, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
        const viaKafkajs = kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } });
        compared++;
        if (ours !== java || viaKafkajs !== java) mismatches.push(`${JSON.stringify(key)} of ${n}: java ${java}, gateway ${ours}, kafkajs ${viaKafkajs}`);
      });
    });
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect(compared).toBe(list.length * COUNTS.length);
    // The keys do spread: every partition of 12 gets some, so a constant function could not pass.
    expect(new Set(javaRows.map((r) => r[COUNTS.indexOf(12)])).size).toBe(12);
  }, 120_000);

  test('the gateway\'s producer writes each record to the partition Java names', async () => {
    const brokers = inject('kafkaBrokers');
    const topic = unique('partitions');
    const admin = new Kafka({ clientId: 'test-admin', brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const cfg = loadConfig({ kafkaBrokers: brokers });
    const session = kafkaDriver(cfg, pino({ level: 'silent' }), 'platformatic').create();
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] });
      // Runs of equal keys (as in a request: one visitor), keys changing mid-send, keys coming back.
      const list = keys(240).slice(1);
      const records: OutRecord[] = [];
      list.forEach((key, i) => {
        for (let j = 0; j < 1 + (i % 4); j++) records.push({ topic, key, value: `${i}.${j}` });
      });
      await session.connect();
      for (let at = 0; at < records.length; at += 97) await session.send(records.slice(at, at + 97));
      const java = new Map((await javaPartitions(list, [3])).map((row, i) => [list[i], row[0]]));
      const read = await readTopic(brokers, topic, records.length);
      expect(read).toHaveLength(records.length);
      const wrong = read.filter((r) => r.key === null || r.partition !== java.get(r.key)).map((r) => `${JSON.stringify(r.key)} in ${r.partition}, java ${java.get(r.key ?? '')}`);
      expect(wrong.slice(0, 10)).toEqual([]);
      expect(new Set(read.map((r) => r.partition)).size).toBe(3);
      expect(new Set(read.map((r) => r.value))).toEqual(new Set(records.map((r) => r.value)));
    } finally {
      await session.close().catch(() => undefined);
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  }, 120_000);
});
