import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { ENRICHED_FIELDS } from '../../contracts/event-schema.js';
import { generateTraffic, rng } from '../../test/harness/traffic.js';
import { archiveSink, objectKey } from '../sinks/archive-sink.js';
import { LocalObjectStore, type ObjectStore } from './object-store.js';
import { ARCHIVE_COLUMNS, decodeParquet, encodeParquet, ROW_GROUP_ROWS } from './parquet.js';
import { parquetMetadata } from 'hyparquet';
import { expectEachOffsetOnce, OWNER_RACES, readArchive, twoOwnersOfOnePartition } from '../../test/harness/archive-owners.js';

const T0 = Date.UTC(2026, 10, 22, 9, 50, 0);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function store(): LocalObjectStore {
  const d = mkdtempSync(join(tmpdir(), 'archive-'));
  dirs.push(d);
  return new LocalObjectStore(d);
}

describe('Parquet format', () => {
  test('the schema follows ENRICHED_FIELDS, plus partition and offset', () => {
    expect(ARCHIVE_COLUMNS.map(([n]) => n)).toEqual([...Object.keys(ENRICHED_FIELDS), 'kafka_partition', 'kafka_offset']);
  });

  test('round trip keeps every field', async () => {
    const events = generateTraffic({ seed: 5, visitors: 20, startMs: T0, spanMs: 60_000 }).map((g) => g.event);
    events[0] = { ...events[0], items: [{ product_id: 'a', price: 1.5, quantity: 2 }], location: '48.85,2.35', is_bot: true, engagement_ms: 1234 };
    const file = encodeParquet(events.map((event, i) => ({ event, partition: 2, offset: BigInt(i + 100) })));
    const back = await decodeParquet(file);
    expect(back.map((r) => r.event)).toEqual(events);
    expect(back.map((r) => r.offset)).toEqual(events.map((_, i) => BigInt(i + 100)));
    // Compressed: far smaller than the JSON.
    expect(file.byteLength).toBeLessThan(JSON.stringify(events).length / 3);
  });

  // 30 s: encoding and decoding two row groups took over the default 5 s on a loaded machine.
  test('an object of more rows than a row group holds is written in row groups of ROW_GROUP_ROWS, every row back in order', { timeout: 30_000 }, async () => {
    const base = generateTraffic({ seed: 6, visitors: 50, startMs: T0, spanMs: 60_000 }).map((g) => g.event);
    const n = ROW_GROUP_ROWS * 2 + 7;
    const events = Array.from({ length: n }, (_, i) => ({ ...base[i % base.length], event_id: `e-${i}` }));
    const file = encodeParquet(events.map((event, i) => ({ event, partition: 1, offset: BigInt(i) })));
    const meta = parquetMetadata(file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer);
    expect(meta.row_groups.map((g) => Number(g.num_rows))).toEqual([ROW_GROUP_ROWS, ROW_GROUP_ROWS, 7]);
    const back = await decodeParquet(file);
    expect(back.map((r) => r.event)).toEqual(events);
    expect(back.map((r) => r.offset)).toEqual(events.map((_, i) => BigInt(i)));
  });

  test.each([
    ['page_view', '2026-11-22T09:59:59.999Z', 'type=page_view/date=2026-11-22/hour=09/page_views-3-10-20.parquet'],
    ['purchase', '2026-11-22T23:00:00.000Z', 'type=purchase/date=2026-11-22/hour=23/page_views-3-10-20.parquet'],
  ])('object key for %s at %s', (type, at, expected) => {
    expect(objectKey(type, at, 'page_views', 3, 10n, 20n)).toBe(expected);
  });
});

describe('archive sink', () => {
  const topic = 'page_views';
  const events = (n: number, startSec = 0) =>
    generateTraffic({ seed: 9, visitors: 200, startMs: T0, spanMs: 30 * 60_000 })
      .map((g) => g.event)
      .filter((e) => e.event_type === 'page_view')
      .slice(startSec, startSec + n);

  test('cuts by offset count, splits by event hour, names objects by offset range', async () => {
    const s = store();
    const sink = archiveSink({ store: s, maxEvents: 50, maxAgeMs: 1e12, repeatHorizon: 0 });
    const evs = events(120);
    for (let i = 0; i < evs.length; i++) await sink.add(evs[i], { topic, partition: 1, offset: String(i) });
    await sink.flush();
    expect(sink.committableOffset(topic, 1)).toBe('100'); // the open chunk starts there
    expect(sink.checkpoint(topic, 1, '100')).toBe('100');
    const archived = await readArchive(s);
    expect(archived.map((a) => a.offset).sort((a, b) => Number(a - b))).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(i)));
    for (const a of archived) {
      expect(a.key).toMatch(/^type=page_view\/date=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/page_views-1-(0-49|50-99)\.parquet$/);
      expect(a.key).toContain(`hour=${a.event.timestamp.slice(11, 13)}`);
    }
  });

  test('the store down: add never fails, flush fails until it is back, then nothing is lost or doubled', async () => {
    const inner = store();
    let down = false;
    const check = () => {
      if (down) throw new Error('connect ECONNREFUSED');
    };
    const flaky: ObjectStore = {
      description: 'flaky',
      put: async (k, b) => (check(), inner.put(k, b)),
      create: async (k, b) => (check(), inner.create(k, b)),
      get: async (k) => (check(), inner.get(k)),
      list: async (p) => (check(), inner.list(p)),
      delete: async (k) => (check(), inner.delete(k)),
    };
    const sink = archiveSink({ store: flaky, maxEvents: 30, maxAgeMs: 1e12, repeatHorizon: 0 });
    const evs = events(100);
    for (let i = 0; i < 40; i++) await sink.add(evs[i], { topic, partition: 0, offset: String(i) });
    await sink.flush();
    down = true;
    for (let i = 40; i < 100; i++) await sink.add(evs[i], { topic, partition: 0, offset: String(i) });
    await expect(sink.flush()).rejects.toThrow(/ECONNREFUSED/);
    await expect(sink.flush()).rejects.toThrow(/ECONNREFUSED/);
    expect(sink.committableOffset(topic, 0)).toBe('30');
    down = false;
    await sink.flush();
    expect(sink.committableOffset(topic, 0)).toBe('90');
    const archived = await readArchive(inner);
    expect(archived.map((a) => a.offset).sort((a, b) => Number(a - b))).toEqual(Array.from({ length: 90 }, (_, i) => BigInt(i)));
  });

  test.each([
    ...Array.from({ length: 8 }, (_, i) => [i + 1, 'age'] as const),
    ...Array.from({ length: 4 }, (_, i) => [i + 9, 'buffer budget'] as const),
  ])('crashes at random moments, with cuts at timing-dependent places, never overlap or lose events (seed %i, %s cuts)', async (seed, cuts) => {
    const r = rng(seed);
    const s = store();
    const evs = events(400);
    let clock = 0;
    let committed: { offset: number; checkpoint: string | undefined } = { offset: 0, checkpoint: undefined };
    let crashes = 0;
    for (;;) {
      // Budget cuts: no JSON passed, so each event counts as an estimated 1,200 bytes; cut once 25 are open.
      const sink = archiveSink({ store: s, maxEvents: 60, repeatHorizon: 0, now: () => clock, ...(cuts === 'age' ? { maxAgeMs: 1000 } : { maxAgeMs: 1e12, maxBufferBytes: 25 * 1200 }) });
      await sink.assign([{ topic, partition: 0, committed: String(committed.offset), checkpoint: committed.checkpoint }]);
      let pos = committed.offset;
      let crashed = false;
      while (pos < evs.length) {
        const n = 1 + Math.floor(r() * 25);
        for (let i = pos; i < Math.min(evs.length, pos + n); i++) await sink.add(evs[i], { topic, partition: 0, offset: String(i) });
        pos = Math.min(evs.length, pos + n);
        clock += Math.floor(r() * 800); // age cuts at timing-dependent places
        if (r() < 0.1 && crashes < 10) {
          crashes++;
          crashed = true;
          break;
        }
        await sink.flush();
        if (r() < 0.15 && crashes < 10) {
          crashes++;
          crashed = true;
          break;
        }
        // Another sink (sessions) sometimes holds the commit further back.
        const own = Number(sink.committableOffset(topic, 0) ?? pos);
        const offset = Math.max(committed.offset, own - (r() < 0.5 ? Math.floor(r() * 100) : 0));
        committed = { offset, checkpoint: sink.checkpoint(topic, 0, String(offset)) };
        sink.committed!(topic, 0, String(offset));
      }
      if (crashed) continue;
      clock += 10_000;
      await sink.flush();
      break;
    }
    const archived = await readArchive(s);
    const offsets = archived.map((a) => a.offset).sort((a, b) => Number(a - b));
    // Everything up to the last cut is archived exactly once (the open tail is not cut yet).
    const expected = Array.from({ length: offsets.length }, (_, i) => BigInt(i));
    expect(offsets).toEqual(expected);
    expect(offsets.length).toBeGreaterThan(300);
    for (const a of archived) expect(a.event).toEqual(evs[Number(a.offset)]);
    // No two objects of one hour overlap.
    const ranges = [...new Set(archived.map((a) => a.key))].map((k) => k.match(/-(\d+)-(\d+)\.parquet$/)!.slice(1).map(Number));
    const byRange = [...new Set(ranges.map((x) => x.join('-')))].map((x) => x.split('-').map(Number)).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < byRange.length; i++) expect(byRange[i][0]).toBe(byRange[i - 1][1] + 1);
  });

  test('the buffer budget: once the open chunks of all partitions pass it, the next flush writes the largest until they hold at most half', async () => {
    const s = store();
    const sink = archiveSink({ store: s, maxEvents: 10_000, maxAgeMs: 1e12, repeatHorizon: 0, maxBufferBytes: 12_000 });
    const evs = events(150);
    const raw = 'x'.repeat(100); // the JSON as received: only its length counts
    const feed = async (partition: number, from: number, n: number) => {
      for (let i = from; i < from + n; i++) await sink.add(evs[i], { topic, partition, offset: String(i), raw });
    };
    await feed(0, 0, 60); // 6,000 bytes
    await feed(1, 60, 50); // 5,000
    await sink.flush(); // 11,000: under the budget, nothing written
    expect(await readArchive(s)).toEqual([]);
    await feed(2, 110, 30); // 3,000: 14,000 in all
    await sink.flush(); // the largest (partition 0) leaves 8,000, then partition 1 leaves 3,000 <= 6,000
    const archived = await readArchive(s);
    expect(archived.map((a) => a.offset).sort((a, b) => Number(a - b))).toEqual(Array.from({ length: 110 }, (_, i) => BigInt(i)));
    expect(new Set(archived.map((a) => a.key.replace(/^.*\//, '')))).toEqual(new Set(['page_views-0-0-59.parquet', 'page_views-1-60-109.parquet']));
    expect(sink.committableOffset(topic, 2)).toBe('110');
    expect(sink.committableOffset(topic, 0)).toBe('60');
    await feed(2, 140, 10); // 4,000: under the budget again
    await sink.flush();
    expect((await readArchive(s)).length).toBe(110);
  });

  describe('records on Kafka twice', () => {
    const HORIZON = 150;
    /** A log with repeats: soon after, far apart within the horizon, and once past it. */
    function logWithRepeats(): EnrichedEvent[] {
      const evs = events(400);
      const log: EnrichedEvent[] = [];
      for (let i = 0; i < evs.length; i++) {
        log.push(evs[i]);
        if (i % 17 === 5) log.push({ ...evs[i - 2] }); // a few records later
        if (i % 41 === 40) log.push({ ...evs[i - 40] }); // about 45 offsets later, far within the horizon
        if (i === 300) log.push({ ...evs[100] }); // past the horizon: a new record for the archive
      }
      return log;
    }
    /** The offsets to archive, by the rule: no record with the same site and event id in the last HORIZON offsets. */
    const kept = (log: EnrichedEvent[]) =>
      log.flatMap((e, o) => (log.slice(Math.max(0, o - HORIZON), o).some((x) => x.site_id === e.site_id && x.event_id === e.event_id) ? [] : [BigInt(o)]));

    test('the first copy is archived, later ones within the horizon are dropped and counted', async () => {
      const s = store();
      let repeats = 0;
      const sink = archiveSink({ store: s, maxEvents: 50, maxAgeMs: 1e12, repeatHorizon: HORIZON, onRepeat: (n) => (repeats += n) });
      const log = logWithRepeats();
      for (let i = 0; i < log.length; i++) await sink.add(log[i], { topic, partition: 0, offset: String(i) });
      await sink.flush();
      const archived = await readArchive(s);
      const offsets = archived.map((a) => a.offset).sort((a, b) => Number(a - b));
      // Chunks span 50 offsets from their first kept record; the last one is still open.
      const all = kept(log);
      let open = all[0];
      while (all.some((o) => o >= open + 50n)) open = all.find((o) => o >= open + 50n)!;
      expect(offsets).toEqual(all.filter((o) => o < open));
      // Every event id once, but the one repeated past the horizon.
      const ids = archived.map((a) => a.event.event_id);
      expect(ids.length - new Set(ids).size).toBe(1);
      expect(repeats).toBe(log.length - kept(log).length);
      expect(repeats).toBeGreaterThan(30);
      // The commit waits the horizon before the first offset not archived; the checkpoint is that offset.
      expect(sink.committableOffset(topic, 0)).toBe(String(open - BigInt(HORIZON)));
      expect(sink.checkpoint(topic, 0, '0')).toBe(String(open));
    });

    test.each(Array.from({ length: 6 }, (_, i) => [i + 1]))('crashes at random moments, with age cuts: the same objects as an uninterrupted run (seed %i)', async (seed) => {
      const r = rng(100 + seed);
      const log = logWithRepeats();
      const once = store();
      const uninterrupted = archiveSink({ store: once, maxEvents: 60, maxAgeMs: 1e12, repeatHorizon: HORIZON });
      for (let i = 0; i < log.length; i++) await uninterrupted.add(log[i], { topic, partition: 0, offset: String(i) });
      await uninterrupted.flush();

      const s = store();
      let clock = 0;
      let committed: { offset: number; checkpoint: string | undefined } = { offset: 0, checkpoint: undefined };
      let crashes = 0;
      for (;;) {
        const sink = archiveSink({ store: s, maxEvents: 60, maxAgeMs: 1000, repeatHorizon: HORIZON, now: () => clock });
        await sink.assign([{ topic, partition: 0, committed: String(committed.offset), checkpoint: committed.checkpoint }]);
        let pos = committed.offset;
        let crashed = false;
        while (pos < log.length) {
          const n = 1 + Math.floor(r() * 25);
          for (let i = pos; i < Math.min(log.length, pos + n); i++) await sink.add(log[i], { topic, partition: 0, offset: String(i) });
          pos = Math.min(log.length, pos + n);
          clock += Math.floor(r() * 800);
          if (r() < 0.1 && crashes < 10) {
            crashes++;
            crashed = true;
            break;
          }
          await sink.flush();
          // What the coordinator commits: the smallest of the position and every sink's hold (another sink sometimes holds further back).
          const own = Number(sink.committableOffset(topic, 0) ?? pos);
          const offset = Math.min(pos, own - (r() < 0.5 ? Math.floor(r() * 100) : 0));
          committed = { offset: Math.max(0, offset), checkpoint: sink.checkpoint(topic, 0, String(offset)) };
          sink.committed(topic, 0, String(committed.offset));
        }
        if (crashed) continue;
        clock += 10_000;
        await sink.flush();
        break;
      }
      expect(crashes).toBeGreaterThan(0);
      const archived = await readArchive(s);
      const offsets = archived.map((a) => a.offset).sort((a, b) => Number(a - b));
      const all = kept(log);
      // Everything up to the last cut, by the rule; the open tail is not cut yet.
      expect(offsets).toEqual(all.slice(0, offsets.length));
      expect(offsets.length).toBeGreaterThan(300);
      for (const a of archived) expect(a.event).toEqual(log[Number(a.offset)]);
      // Count-cut objects are the uninterrupted run's, with the same rows (age cuts may differ in where they cut).
      const ids = archived.map((a) => a.event.event_id);
      expect(ids.length - new Set(ids).size).toBeLessThanOrEqual(1);
      const ref = (await readArchive(once)).map((a) => a.offset).sort((a, b) => Number(a - b));
      expect(ref).toEqual(all.slice(0, ref.length));
    });
  });
});

describe('two owners of one partition (a rebalance: the old owner still flushing, the new one replaying)', () => {
  test.each(OWNER_RACES)('%s cuts first (A at %i, B at %i): every offset is in exactly one object, none lost', async (first, aCut, bCut) => {
    const s = store();
    expectEachOffsetOnce(await twoOwnersOfOnePartition(s, { aCut, bCut, total: 120, first }), 120);
  });
});
