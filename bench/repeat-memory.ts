/**
 * npm run bench:repeats [-- --sessions 100000 --events 10]
 *
 * Bytes of heap per event held by the analytics engine's repeat detection, before and after
 * recent-counts.ts, measured in the same run: the old state (every open session's set of site
 * and event ids) and the new one (the ids of the last ANALYTICS_REPEAT_HORIZON offsets of a
 * topic-partition, with their sessions), fed the same SDK-like ids (fresh strings, as from
 * JSON.parse). Then what each holds at 10,000 events/s with 30-minute sessions.
 */
import { parseArgs } from 'node:util';
import { RecentCounts } from '../processor/analytics/recent-counts.js';
import { DEFAULT_REPEAT_HORIZON } from '../processor/analytics/engine-options.js';

const { values } = parseArgs({ options: { sessions: { type: 'string', default: '100000' }, events: { type: 'string', default: '10' } } });
const SESSIONS = Number(values.sessions);
const PER = Number(values.events);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('bench:repeats needs node --expose-gc (npm run bench:repeats passes it)\n');
  process.exit(2);
}
const heap = () => {
  gc();
  gc();
  // The window keeps its entries in typed arrays, outside the V8 heap: both count.
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const sdkId = () => Date.now().toString(36) + crypto.getRandomValues(new Uint32Array(4)).join('_');
// As the engine builds it (repeatKey): site and event id of a parsed event, joined.
const key = () => {
  const e = JSON.parse(JSON.stringify({ site_id: 'shop', event_id: sdkId() })) as { site_id: string; event_id: string };
  return `${e.site_id}\u0000${e.event_id}`;
};

function old(): number {
  const base = heap();
  const sessions = new Map<string, Set<string>>();
  for (let s = 0; s < SESSIONS; s++) {
    const ids = new Set<string>();
    for (let i = 0; i < PER; i++) {
      const k = key();
      if (!ids.has(k)) ids.add(k);
    }
    sessions.set(`ses-${s}`, ids);
  }
  const bytes = heap() - base;
  if (sessions.size !== SESSIONS) throw new Error('lost sessions');
  return bytes / (SESSIONS * PER);
}

function recent(): number {
  const n = SESSIONS * PER;
  const w = new RecentCounts<object>(n); // every event inside the window: the most it holds per offset
  const owners = Array.from({ length: SESSIONS }, () => ({}));
  const base = heap();
  let off = 0;
  for (let s = 0; s < SESSIONS; s++) {
    for (let i = 0; i < PER; i++) {
      const k = key();
      if (w.countedBy(k, off) === undefined) w.counted(k, off, owners[s]);
      off++;
    }
  }
  const bytes = heap() - base;
  if (w.size !== n) throw new Error('lost ids');
  return bytes / n;
}

const before = old();
const after = recent();
const rate = 10_000;
const held = rate * 1800; // ids of open sessions: a session stays open 30 min after its last event
const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
console.log(`${SESSIONS} sessions x ${PER} events, SDK-like ids`);
console.log(`bytes per event held: per-session id sets ${before.toFixed(1)}, recent window ${after.toFixed(1)} (ratio ${(after / before).toFixed(2)})`);
console.log(`at ${rate} events/s, 30-min sessions: per-session sets hold ${held.toLocaleString('en')} ids = ${mb(held * before)}`);
const tps = 4 * 6;
console.log(`recent window: at most ANALYTICS_REPEAT_HORIZON=${DEFAULT_REPEAT_HORIZON.toLocaleString('en')} ids per topic-partition: ${mb(DEFAULT_REPEAT_HORIZON * after)} each, ${mb(Math.min(held, DEFAULT_REPEAT_HORIZON * tps) * after)} for ${tps} topic-partitions at most`);
