import { CompressionAlgorithms, createRecordsBatch, Reader, readRecordsBatches, type MessageRecord } from '@platformatic/kafka';
import { describe, expect, test } from 'vitest';
import { batchesEnd, decodeRecords, recordsFrom } from './kafka-fetch.js';

const plain = (r: { offset: string; value: string | null; bytes?: Uint8Array | null }) => ({ offset: r.offset, value: r.value, bytes: r.bytes ? Buffer.from(r.bytes).toString('hex') : r.bytes });

/** One batch's bytes as the broker stores it, its offsets from `first`. */
function batch(first: number, messages: MessageRecord[], compression: (typeof CompressionAlgorithms)[keyof typeof CompressionAlgorithms] = CompressionAlgorithms.NONE): Buffer {
  const bytes = Buffer.from(createRecordsBatch(messages, { compression }).buffer);
  // The base offset is the broker's to set (the producer sends 0).
  bytes.writeBigInt64BE(BigInt(first), 0);
  return bytes;
}

const msg = (value: string | Buffer | null, extra: Partial<MessageRecord> = {}): MessageRecord =>
  ({ topic: 't', key: Buffer.from('visitor-1'), value: typeof value === 'string' ? Buffer.from(value) : value, timestamp: 1_700_000_000_000n, ...extra }) as MessageRecord;

/** What the client's own decoding gives (the reference). */
const viaClient = (bytes: Buffer, from: bigint) => recordsFrom(readRecordsBatches(Reader.from(bytes)), from).map(plain);

describe('decodeRecords: a partition fetch read straight from its bytes', () => {
  const values = ['{"a":1}', '{"é":"ü€😀"}', '', 'x'.repeat(300), '{"n":5}'];
  const headers = new Map([[Buffer.from('h'), Buffer.from('header value')]]);
  const bytes = Buffer.concat([
    batch(0, values.map((v) => msg(v))),
    // Keys of many lengths, no key, headers, a null value, bytes that are not UTF-8.
    batch(5, [msg('k', { key: Buffer.alloc(200, 1) }), msg('nokey', { key: undefined }), msg('with headers', { headers }), msg(null), msg(Buffer.from([0xff, 0xfe, 0x41]))]),
    batch(10, [msg('{"z":1}'), msg('{"z":2}')]),
  ]);

  test('the same records and bytes as the client, from any offset', () => {
    for (const from of [0n, 3n, 5n, 9n, 11n, 12n]) expect(decodeRecords(bytes, from).records.map(plain)).toEqual(viaClient(bytes, from));
    expect(decodeRecords(bytes, 0n).records.map((r) => r.value)).toEqual([...values, 'k', 'nokey', 'with headers', null, '\ufffd\ufffdA', '{"z":1}', '{"z":2}']);
    expect(decodeRecords(bytes, 0n).next).toBe(12n);
  });

  test('a last batch cut short by the size limit is left for the next fetch', () => {
    const whole = bytes.length - batch(10, [msg('{"z":1}'), msg('{"z":2}')]).length;
    for (const cut of [whole + 5, whole + 61, bytes.length - 1]) {
      const got = decodeRecords(bytes.subarray(0, cut), 0n);
      expect(got.next).toBe(10n);
      expect(got.records.map((r) => r.offset)).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    }
    expect(decodeRecords(bytes.subarray(0, 30), 0n)).toEqual({ records: [], next: null });
  });

  test('compressed batches are decoded by the client', () => {
    const gz = Buffer.concat([batch(0, values.map((v) => msg(v)), CompressionAlgorithms.GZIP), batch(5, [msg('{"b":2}')])]);
    expect(decodeRecords(gz, 2n).records.map(plain)).toEqual(viaClient(gz, 2n));
    expect(decodeRecords(gz, 0n).records.map((r) => r.value)).toEqual([...values, '{"b":2}']);
  });

  test('batchesEnd: where the next fetch starts, from the headers alone, as decodeRecords says', () => {
    const whole = bytes.length - batch(10, [msg('{"z":1}'), msg('{"z":2}')]).length;
    for (const cut of [bytes.length, bytes.length - 1, whole + 61, whole, whole - 1, 30, 0]) expect(batchesEnd(bytes.subarray(0, cut))).toBe(decodeRecords(bytes.subarray(0, cut), 0n).next);
    expect(batchesEnd(bytes)).toBe(12n);
    expect(batchesEnd(bytes.subarray(0, whole))).toBe(10n);
    expect(batchesEnd(bytes.subarray(0, 30))).toBeNull();
  });

  test('batches wholly below the position are skipped but still move it', () => {
    expect(decodeRecords(bytes, 12n)).toEqual({ records: [], next: 12n });
  });
});
