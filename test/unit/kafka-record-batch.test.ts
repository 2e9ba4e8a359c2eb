/**
 * patches/@platformatic+kafka+2.12.1.patch encodes a producer's record batch into one Buffer
 * (records) plus one 61-byte header, and computes the CRC chunk by chunk. Kafka rejects a batch
 * whose CRC or lengths are wrong, and reads keys and values at the offsets the varints say, so
 * the batches are checked here field by field: decoded with the client's own reader, the CRC-32C
 * recomputed (the client's pure-JavaScript CRC) over the whole batch from Attributes to the end,
 * the Length field against the bytes, for random messages (null, empty and multi-byte keys and
 * values, headers, timestamps before and after the first one, values large enough for multi-byte
 * varints) and each codec; and keys and values given as strings (the gateway's enriched JSON),
 * which the patch writes as UTF-8 straight into the batch, against the same given as Buffers.
 */
import { createRecordsBatch, jsCRC32C, readRecordsBatch, Reader, type CompressionAlgorithmValue } from '@platformatic/kafka';
import { describe, expect, test } from 'vitest';
import { clientWritesStrings } from '../../gateway/platformatic-driver.js';

interface TestMessage {
  topic: string;
  partition: number;
  key?: Buffer | null;
  value?: Buffer | null;
  headers?: Map<Buffer, Buffer>;
  timestamp?: bigint;
}

function rng(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
}

function messages(rnd: () => number, count: number, base: bigint): TestMessage[] {
  const text = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (rnd() < 0.05 ? 'é中🙂'[i % 3] : String.fromCharCode(97 + (i % 26)))).join(''));
  return Array.from({ length: count }, (_, i) => {
    const r = rnd();
    const headers = new Map<Buffer, Buffer>();
    if (rnd() < 0.3) {
      headers.set(Buffer.from('trace'), text(Math.floor(rnd() * 300)));
      headers.set(Buffer.from('empty'), Buffer.alloc(0));
    }
    return {
      topic: 't',
      partition: 2,
      key: r < 0.1 ? null : r < 0.15 ? Buffer.alloc(0) : text(1 + Math.floor(rnd() * 150)),
      value: r > 0.97 ? null : text(i % 17 === 0 ? 17_000 : Math.floor(rnd() * 2_000)),
      headers,
      // Later, earlier (negative delta) and absent timestamps.
      timestamp: rnd() < 0.8 ? base + BigInt(Math.floor(rnd() * 2_000_000) - 1_000_000) : undefined,
    };
  });
}

describe('record batch encoding (patched @platformatic/kafka)', () => {
  for (const compression of ['none', 'lz4', 'snappy', 'gzip', 'zstd'] as CompressionAlgorithmValue[]) {
    test(`random batches decode to their messages with a valid CRC and length (${compression})`, () => {
      const rnd = rng(compression.length * 7919);
      for (let round = 0; round < 12; round++) {
        const count = 1 + Math.floor(rnd() * 120);
        const base = 1_764_000_000_000n + BigInt(round);
        const input = messages(rnd, count, base);
        const firstTimestamp = input[0].timestamp;
        const sequences = new Map([['t:2', 41]]) as Map<string, number> & { getWithDefault(k: string, d: number): number };
        sequences.getWithDefault = (k, d) => sequences.get(k) ?? d;
        const writer = createRecordsBatch(input as never, { compression, producerId: 77n, producerEpoch: 3, sequences } as never);
        // The patch is applied: the header is one Buffer, followed by the records (not a dozen small ones).
        expect(writer.buffers[0].length).toBe(61);
        const bytes = writer.buffer;

        // Length (offset 8) counts the bytes after itself; the CRC (offset 17) covers Attributes (21) to the end.
        expect(bytes.readInt32BE(8)).toBe(bytes.length - 12);
        expect(bytes.readUInt32BE(17)).toBe(jsCRC32C(bytes.subarray(21)));

        const batch = readRecordsBatch(Reader.from(bytes));
        expect(batch.magic).toBe(2);
        expect(batch.producerId).toBe(77n);
        expect(batch.producerEpoch).toBe(3);
        expect(batch.firstSequence).toBe(41);
        expect(batch.lastOffsetDelta).toBe(count - 1);
        expect(batch.records).toHaveLength(count);
        const stamps = input.map((m) => m.timestamp!);
        expect(batch.maxTimestamp).toBe(stamps.reduce((a, b) => (b > a ? b : a)));
        if (firstTimestamp !== undefined) expect(batch.firstTimestamp).toBe(firstTimestamp);
        batch.records.forEach((rec, i) => {
          const m = input[i];
          expect(rec.offsetDelta).toBe(i);
          expect(batch.firstTimestamp + rec.timestampDelta).toBe(m.timestamp);
          expect(rec.key === null ? null : Buffer.from(rec.key).toString('hex')).toBe(m.key == null ? null : m.key.toString('hex'));
          expect(rec.value === null ? null : Buffer.from(rec.value).toString('hex')).toBe(m.value == null ? null : m.value.toString('hex'));
          expect(rec.headers.map(([k, v]) => `${String(k)}=${v?.length}`)).toEqual([...m.headers!].map(([k, v]) => `${k.toString()}=${v.length}`));
        });
      }
    });
  }

  test('the gateway driver sees the patch, so it hands over its JSON strings (else Buffers)', () => {
    expect(clientWritesStrings()).toBe(true);
  });

  test('string keys and values are written as their UTF-8 bytes: the same batch as with Buffers', () => {
    const rnd = rng(4242);
    for (let round = 0; round < 12; round++) {
      const base = 1_764_000_000_000n + BigInt(round);
      const input = messages(rnd, 1 + Math.floor(rnd() * 120), base).map((m, i) => ({ ...m, timestamp: m.timestamp ?? base, headers: i % 2 ? m.headers : undefined }));
      // Multi-byte, astral and lone-surrogate characters (written as U+FFFD, as Buffer.from does).
      const odd = ['', 'é', '中文', '🙂', '\ud800', 'a\udc00b'];
      const asStrings = input.map((m, i) => ({
        ...m,
        key: m.key == null ? m.key : m.key.toString('utf8') + odd[i % odd.length],
        value: m.value == null ? m.value : m.value.toString('utf8') + odd[(i + 3) % odd.length],
      }));
      const asBuffers = asStrings.map((m) => ({ ...m, key: m.key == null ? m.key : Buffer.from(m.key), value: m.value == null ? m.value : Buffer.from(m.value) }));
      const opts = { producerId: 5n, producerEpoch: 1 } as never;
      const fromStrings = createRecordsBatch(asStrings as never, opts).buffer;
      expect(fromStrings.equals(createRecordsBatch(asBuffers as never, opts).buffer)).toBe(true);
      const batch = readRecordsBatch(Reader.from(fromStrings));
      batch.records.forEach((rec, i) => {
        expect(rec.value === null ? null : Buffer.from(rec.value).toString('utf8')).toBe(asBuffers[i].value == null ? null : asBuffers[i].value!.toString('utf8'));
        expect(rec.headers).toHaveLength(i % 2 ? input[i].headers!.size : 0);
      });
    }
  });
});
