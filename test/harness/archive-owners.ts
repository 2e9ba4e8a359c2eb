/**
 * Two archive sinks owning one partition at once, as during a rebalance: the old owner still
 * flushing what it read, the new one replaying from the last commit. Each step is awaited in a
 * fixed order, so an interleaving that once needed a loaded machine to happen happens every run.
 */
import { expect } from 'vitest';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import type { ObjectStore } from '../../processor/archive/object-store.js';
import { decodeParquet } from '../../processor/archive/parquet.js';
import { archiveSink } from '../../processor/sinks/archive-sink.js';
import { generateTraffic } from './traffic.js';

/** Every archived event, read back from every Parquet object. */
export async function readArchive(s: ObjectStore): Promise<{ key: string; offset: bigint; event: EnrichedEvent }[]> {
  const out: { key: string; offset: bigint; event: EnrichedEvent }[] = [];
  for (const key of await s.list('type=')) {
    if (!key.endsWith('.parquet')) continue;
    for (const r of await decodeParquet((await s.get(key))!)) out.push({ key, offset: r.offset, event: r.event });
  }
  return out;
}

/** Who cuts first, where A cuts, where B cuts: every order of two different cuts, and equal cuts. */
export const OWNER_RACES = [
  ['A', 39, 59],
  ['B', 39, 59],
  ['A', 59, 39],
  ['B', 59, 39],
  ['A', 40, 40],
] as const;

/** Checks every offset below `total` is in exactly one archived object, with its own event. */
export function expectEachOffsetOnce(got: Awaited<ReturnType<typeof twoOwnersOfOnePartition>>, total: number) {
  const offsets = got.rows.map((r) => Number(r.offset)).sort((x, y) => x - y);
  expect(offsets).toEqual(Array.from({ length: total }, (_, i) => i));
  for (const r of got.rows) expect(r.event).toEqual(got.events[Number(r.offset)]);
}

/**
 * Old owner A and new owner B both read offsets 0.. with no manifest for chunk start 0 and cut
 * it by age at different offsets (A at `aCut`, B at `bCut`); `first` says whose cut reaches
 * the store first. A then leaves (revoked); B goes on to `total` offsets and flushes everything.
 * Returns every archived row and the events, so a test can check each offset is in one object.
 */
export async function twoOwnersOfOnePartition(store: ObjectStore, o: { aCut: number; bCut: number; total: number; first: 'A' | 'B' }) {
  const topic = 'clicks';
  const events = generateTraffic({ seed: 21, visitors: 100, startMs: Date.UTC(2026, 10, 22, 9, 50), spanMs: 20 * 60_000 })
    .map((g) => g.event)
    .slice(0, o.total);
  let clock = 0;
  const sink = () => archiveSink({ store, maxEvents: 10_000, maxAgeMs: 1000, repeatHorizon: 0, now: () => clock });
  const [a, b] = [sink(), sink()];
  const feed = async (s: ReturnType<typeof sink>, from: number, to: number) => {
    for (let i = from; i < to; i++) await s.add(events[i], { topic, partition: 0, offset: String(i) });
  };
  await a.assign([{ topic, partition: 0, committed: '0', checkpoint: undefined }]);
  await b.assign([{ topic, partition: 0, committed: '0', checkpoint: undefined }]);
  // Both look up the manifest of chunk start 0 (none yet) at their first flush, before either cuts.
  await feed(a, 0, o.aCut + 1);
  await a.flush();
  await feed(b, 0, o.bCut + 1);
  await b.flush();
  clock += 2000; // both chunks are now old enough to be cut, each where its owner got to
  for (const s of o.first === 'A' ? [a, b] : [b, a]) await s.flush();
  a.revoke(topic, 0);
  await feed(b, o.bCut + 1, o.total);
  for (let i = 0; i < 4; i++) {
    await b.flush();
    clock += 2000;
  }
  await b.flush();
  return { rows: await readArchive(store), events };
}
