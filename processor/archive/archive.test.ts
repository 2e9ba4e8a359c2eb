import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { ENRICHED_FIELDS } from '../../contracts/event-schema.js';
import { generateTraffic, rng } from '../../test/harness/traffic.js';
import { archiveSink, objectKey } from '../sinks/archive-sink.js';
import { LocalObjectStore, type ObjectStore } from './object-store.js';
import { ARCHIVE_COLUMNS, decodeParquet, encodeParquet } from './parquet.js';

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

/** Every archived event, read back from every Parquet object. */
export async function readArchive(s: ObjectStore): Promise<{ key: string; offset: bigint; event: EnrichedEvent }[]> {
  const out: { key: string; offset: bigint; event: EnrichedEvent }[] = [];
  for (const key of await s.list('type=')) {
    if (!key.endsWith('.parquet')) continue;
    for (const r of await decodeParquet((await s.get(key))!)) out.push({ key, offset: r.offset, event: r.event });
  }
  return out;
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
    const sink = archiveSink({ store: s, maxEvents: 50, maxAgeMs: 1e12 });
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
      get: async (k) => (check(), inner.get(k)),
      list: async (p) => (check(), inner.list(p)),
      delete: async (k) => (check(), inner.delete(k)),
    };
    const sink = archiveSink({ store: flaky, maxEvents: 30, maxAgeMs: 1e12 });
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

  test.each(Array.from({ length: 8 }, (_, i) => [i + 1]))('crashes at random moments, with age cuts, never overlap or lose events (seed %i)', async (seed) => {
    const r = rng(seed);
    const s = store();
    const evs = events(400);
    let clock = 0;
    let committed: { offset: number; checkpoint: string | undefined } = { offset: 0, checkpoint: undefined };
    let crashes = 0;
    for (;;) {
      const sink = archiveSink({ store: s, maxEvents: 60, maxAgeMs: 1000, now: () => clock });
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
});
