/**
 * A visitor must land on the same partition whichever client wrote its events: the processor's
 * visitor-level state and existing topics depend on it. The gateway's partition function (the
 * one @platformatic/kafka is given) and kafkajs's default partitioner are compared with Kafka's
 * own Java partitioner (BuiltInPartitioner.partitionForKey, run with `java` on the Kafka jars of
 * .cache) for 10,000 keys: visitor ids as the SDK makes them, random ASCII, and non-ASCII text.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Partitioners } from 'kafkajs';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../common/config.js';
import { fetchKafka } from '../../infra/fetch.js';
import { partitionOf } from '../../gateway/platformatic-driver.js';

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

describe('key -> partition', () => {
  test('the gateway and kafkajs put 10,000 keys where Kafka\'s Java producer does', async () => {
    const { classpath } = await fetchKafka(loadConfig().kafkaVersion);
    const list = keys(10_000);
    const javaOut = execFileSync('java', ['-cp', classpath.join(path.delimiter), path.join(import.meta.dirname, 'java', 'KeyPartitions.java'), ...COUNTS.map(String)], {
      input: list.join('\n') + '\n',
      maxBuffer: 64 * 1024 * 1024,
    }).toString('utf8');
    const javaRows = javaOut.trimEnd().split('\n').map((l) => l.split(' ').map(Number));
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
});
