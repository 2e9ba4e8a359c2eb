/**
 * bench:archive-memory — the archive sink's memory over a long run, without Kafka: N enriched
 * events (the gateway's enrichment, as bench:processor-memory produces them), spread over the
 * event topics by type and over partitions by visitor, each parsed from its JSON as the consumer
 * does, are added to the real archive sink (processor/sinks/archive-sink.ts) as fast as it goes,
 * on a simulated clock of 10,000 events/s: a flush every 2,500 events (PROCESSOR_FLUSH_INTERVAL_MS
 * 250 ms), started while the next events are added and awaited before the next one (the
 * coordinator's backpressure), then a commit of every topic-partition (checkpoint, committed:
 * manifests deleted). So 12 M events are the equivalent of 20 minutes at 10,000 events/s: every
 * repeat window full, thousands of objects written. Printed every 500,000 events and at the end:
 * RSS, V8 heap used / total, external and array buffers (process.memoryUsage, sampled every
 * 250 ms), median and peak over the second half (steady) and the whole run, beside 512 MB.
 *
 *   npm run bench:archive-memory -- [--events 12000000] [--partitions 6] [--store local|discard]
 *       [--data-dir .data/bench/archive-memory] [--max-buffer-mb 32] [--repeat-horizon 50000]
 *       [--max-events 20000] [--node-flags="--max-semi-space-size=8"] [--no-background-flags]
 *
 * The process runs with the processor's node flags (processor/node-flags.ts), then --node-flags,
 * and sets the V8 flags an archive-only processor process sets on itself (PROCESSOR_HEAP_GROWING_PERCENT,
 * processor/node-flags.ts) unless --no-background-flags.
 * `--store discard` keeps the manifests in memory and counts the Parquet bytes without writing
 * them (no disk, same encoding); `local` writes them as the role does by default, and deletes
 * them at the end.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../common/config.js';
import type { EnrichedEvent } from '../contracts/event-schema.js';
import { TOPIC_BY_TYPE } from '../contracts/topics.js';
import { resolveDataDir } from '../infra/paths.js';
import { LocalObjectStore, type ObjectStore } from '../processor/archive/object-store.js';
import { PROCESSOR_NODE_FLAGS, setHeapV8Flags } from '../processor/node-flags.js';
import { archiveSink } from '../processor/sinks/archive-sink.js';
import { MemoryObjectStore } from '../test/harness/memory-object-store.js';
import { parseArgs } from './lib/args.js';
import { partitionOf } from './lib/partition-of.js';
import { int, loadAverage } from './lib/stats.js';

const a = parseArgs();
const RATE = 10_000;
/** Enriched events generated once (4 s of traffic), then again with new ids and times. */
const POOL = 40_000;
const POOL_FILE = process.env.BENCH_ARCHIVE_MEMORY_POOL;
if (!POOL_FILE) {
  // The enrichment's geoip-lite database (~150 MB of buffers) stays in this process: the
  // measured one, under the processor's node flags (they size the young generation), reads
  // the generated events from a file.
  const file = path.join(resolveDataDir(a.str('data-dir', '.data/bench/archive-memory')), `pool-${process.pid}.ndjson`);
  await mkdir(path.dirname(file), { recursive: true });
  // Imported here only: the enrichment loads geoip-lite's database when imported.
  const { enrichedStream } = await import('./lib/enriched.js');
  const lines: string[] = [];
  for (const ev of enrichedStream(RATE, 'am', Date.now())) {
    if (lines.length >= POOL) break;
    lines.push(JSON.stringify(ev));
  }
  await writeFile(file, lines.join('\n'));
  const extra = a.str('node-flags', '').split(' ').filter(Boolean);
  const r = spawnSync(process.execPath, [...PROCESSOR_NODE_FLAGS, ...extra, '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_ARCHIVE_MEMORY_POOL: file },
  });
  await rm(file, { force: true });
  process.exit(r.status ?? 1);
}

// As processor/main.ts does at start-up for an archive-only process (--no-background-flags: without, for an A/B).
const v8Flags = a.flag('no-background-flags') ? [] : setHeapV8Flags(loadConfig(), ['archive']);
const N = a.num('events', 12_000_000);
const FLUSH_EVERY = RATE / 4;
const PARTITIONS = a.num('partitions', loadConfig().topicPartitions);
const STORE = a.str('store', 'local');
const DIR = path.join(resolveDataDir(a.str('data-dir', '.data/bench/archive-memory')), `run-${Date.now().toString(36)}`);
const MB = 1e6;

/** Keeps manifests (the sink reads them back) and drops the Parquet objects (the sink's onWrite counts them). */
class DiscardStore extends MemoryObjectStore {
  override readonly description = 'discard';
  override async put(key: string, body: Uint8Array) {
    if (key.endsWith('.json')) await super.put(key, body);
  }
}

const store: ObjectStore = STORE === 'discard' ? new DiscardStore() : new LocalObjectStore(DIR);
let written = 0;
let writtenBytes = 0;
const sink = archiveSink({
  store,
  maxEvents: a.num('max-events', 20_000),
  maxAgeMs: 60_000,
  maxBufferBytes: a.num('max-buffer-mb', 32) * MB,
  repeatHorizon: a.num('repeat-horizon', 50_000),
  onWrite: (_s, bytes) => {
    written++;
    writtenBytes += bytes;
  },
  now: () => clock,
});
let clock = Date.now();

interface Sample {
  at: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}
const samples: Sample[] = [];
let added = 0;
const sample = () => {
  const m = process.memoryUsage();
  samples.push({ at: added, rss: m.rss / MB, heapUsed: m.heapUsed / MB, heapTotal: m.heapTotal / MB, external: m.external / MB, arrayBuffers: m.arrayBuffers / MB });
};
const timer = setInterval(sample, 250);

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1] ?? NaN;
const summary = (ss: Sample[]) => {
  const peak = ss.reduce((p, s) => (s.rss > p.rss ? s : p), ss[0]);
  return `RSS median ${int(median(ss.map((s) => s.rss)))} MB, peak ${int(peak.rss)} MB (${((peak.rss / 512) * 100).toFixed(0)} % of 512 MB; at the peak heap used ${int(peak.heapUsed)} of ${int(peak.heapTotal)} MB, external ${int(peak.external)} MB of which array buffers ${int(peak.arrayBuffers)} MB)`;
};

const offsets = new Map<string, number>();
const tps = new Set<string>();
const t0 = performance.now();
const cpu0 = process.cpuUsage();
console.log(`[archive-memory] ${int(N)} events (${(N / RATE / 60).toFixed(1)} min at ${int(RATE)} events/s), ${PARTITIONS} partitions, store ${STORE}, flags ${[...process.execArgv.filter((f) => f.startsWith('--') && f !== '--import'), ...v8Flags].join(' ')}; load ${await loadAverage()}`);
let flushing: Promise<void> | null = null;
const flushAndCommit = async () => {
  await sink.flush();
  for (const k of tps) {
    const [topic, p] = k.split('|');
    const at = sink.committableOffset!(topic, Number(p));
    if (at !== undefined && sink.checkpoint!(topic, Number(p), at) !== undefined) sink.committed!(topic, Number(p), at);
  }
};
const pool = (await readFile(POOL_FILE, 'utf8')).split('\n');
const poolSpanMs = (POOL / RATE) * 1000;
const shift = (iso: string | null, ms: number) => (iso === null ? null : new Date(Date.parse(iso) + ms).toISOString());
while (added < N) {
  const cycle = Math.floor(added / POOL);
  const ev = JSON.parse(pool[added % POOL]) as EnrichedEvent;
  if (cycle > 0) {
    ev.event_id = `${cycle.toString(36)}_${ev.event_id}`;
    ev.received_at = shift(ev.received_at, cycle * poolSpanMs)!;
    ev.timestamp = shift(ev.timestamp, cycle * poolSpanMs)!;
  }
  const topic = TOPIC_BY_TYPE[ev.event_type];
  const partition = partitionOf(ev.visitor_id, PARTITIONS);
  const k = `${topic}|${partition}`;
  const off = offsets.get(k) ?? 0;
  offsets.set(k, off + 1);
  tps.add(k);
  const text = JSON.stringify(ev);
  // A fresh object per record, as the consumer's parse makes it.
  sink.add(JSON.parse(text) as EnrichedEvent, { topic, partition, offset: String(off) });
  added++;
  if (added % FLUSH_EVERY === 0) {
    clock += 250;
    if (flushing) await flushing;
    flushing = flushAndCommit();
    // Let the sampler and the flush's I/O run between batches, as the consumer's awaits do.
    await new Promise((r) => setImmediate(r));
  }
  if (added % 500_000 === 0) console.log(`[archive-memory] ${int(added)} events, ${int(written)} objects; last 10 s: ${summary(samples.slice(-40))}`);
}
if (flushing) await flushing;
await flushAndCommit();
clearInterval(timer);
sample();
const cpu = process.cpuUsage(cpu0);
const secs = (performance.now() - t0) / 1000;
const half = samples.filter((s) => s.at >= N / 2);
console.log(`\n=== bench:archive-memory (${int(N)} events = ${(N / RATE / 60).toFixed(1)} min at 10,000 events/s, ${PARTITIONS} partitions x ${Object.keys(TOPIC_BY_TYPE).length} topics, ${int(written)} objects, ${(writtenBytes / MB).toFixed(0)} MB Parquet; ${secs.toFixed(0)} s, ${(((cpu.user + cpu.system) / N)).toFixed(1)} µs CPU per event incl. generating; load ${await loadAverage()}) ===`);
console.log(`steady (second half): ${summary(half)}`);
console.log(`whole run:            ${summary(samples)}`);
if (STORE !== 'discard') await rm(DIR, { recursive: true, force: true });
