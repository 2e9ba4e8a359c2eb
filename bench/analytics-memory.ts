/**
 * bench:analytics-memory — what the analytics role holds at a steady rate, without Kafka or
 * Elasticsearch: the partition engines and the stream anomaly detectors (as the role wires them,
 * default settings) fed bench:processor's live traffic (2,000 browsers' batches repeating, as its
 * freshness phase sends them) at --rate events/s of event time, parsed as the role parses records.
 * Every 10 s of event time: heap used and array buffers after a full GC, open sessions and windows.
 * What the role holds depends on event time and offsets (lateness, windows, sessions, repeat
 * horizons), not on how fast it reads, so a busy machine gives the same figures as a quiet one.
 *
 *   npm run bench:analytics-memory -- [--seconds 120] [--rate 10000] [--partitions 6] [--no-anomaly] [--snapshot-at 40,100]
 *
 * --snapshot-at: heap snapshots at those seconds of event time (.data/bench/analytics-memory), to
 * compare object counts between two of them.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import type { Client } from '@elastic/elasticsearch';
import { EVENT_TOPICS, topicFor } from '../contracts/topics.js';
import { loadConfig } from '../common/config.js';
import { resolveDataDir } from '../infra/paths.js';
import type { EnrichedEvent } from '../contracts/event-schema.js';
import { PartitionEngine } from '../processor/analytics/engine.js';
import { anomalyOptionsFromConfig } from '../processor/anomaly/options.js';
import { parseAnalyticsEvent } from '../processor/layout-parse.js';
import { engineOptionsFromConfig } from '../processor/main.js';
import { alertsSink } from '../processor/sinks/alerts-sink.js';
import { parseArgs } from './lib/args.js';
import { partitionOf } from './lib/partition-of.js';
import { enrichedStream } from './lib/enriched.js';
import { log, runBench } from './lib/run.js';
import { int, loadAverage } from './lib/stats.js';

const a = parseArgs();
const SECONDS = a.num('seconds', 120);
const RATE = a.num('rate', 10_000);
const PARTITIONS = a.num('partitions', 6);
const ANOMALY = !a.flag('no-anomaly');
const SNAPSHOT_AT = new Set(a.str('snapshot-at', '').split(',').filter(Boolean).map(Number));
const DATA_DIR = resolveDataDir(a.str('data-dir', '.data/bench/analytics-memory'));
/** Events between two drains (the live role flushes every 250 ms: 2,500 events at 10,000 events/s). */
const DRAIN_EVERY = Math.max(1, Math.round(RATE / 4));

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('bench:analytics-memory needs node --expose-gc (npm run bench:analytics-memory passes it)');
const usage = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed / 1e6, buffers: m.arrayBuffers / 1e6, rss: m.rss / 1e6 };
};

await runBench('bench:analytics-memory', 1800, async () => {
  const config = loadConfig({});
  log(`analytics memory: ${SECONDS} s of event time at ${int(RATE)} events/s, ${PARTITIONS} partitions, anomaly detection ${ANOMALY ? 'on' : 'off'}; load ${await loadAverage()}`);
  const start = Date.now() - (SECONDS + 60) * 1000;
  const events = enrichedStream(RATE, `m${Date.now().toString(36)}`, start, 2000, 11);
  const options = engineOptionsFromConfig(config);
  const engines = Array.from({ length: PARTITIONS }, (_, partition) => new PartitionEngine({ ...options, partition, topics: EVENT_TOPICS }));
  // Alerts are counted, not written: the detectors' state is what is measured.
  let alerts = 0;
  const client = { bulk: async ({ operations }: { operations: unknown[] }) => ({ items: operations.filter((_, i) => i % 2 === 0).map(() => (alerts++, { create: { status: 201 } })) }) };
  const detectors = ANOMALY ? alertsSink({ client: client as unknown as Client, indexPrefix: 'bench', detectors: anomalyOptionsFromConfig(config), outbox: null }) : null;
  detectors?.assign(engines.flatMap((e) => EVENT_TOPICS.map((topic) => ({ topic, partition: e.partition, committed: null, checkpoint: undefined }))));
  const next = engines.map(() => new Array<number>(EVENT_TOPICS.length).fill(0));
  const base = usage();
  log(`before the first event: heap ${int(base.heap)} MB, array buffers ${int(base.buffers)} MB (the generator's tables included), RSS ${int(base.rss)} MB`);
  console.log('event time  heap used  array buffers  state (both, over the start)  open sessions  open windows');
  let lastPoll = -Infinity;
  let lastEmit = -Infinity;
  for (let i = 1; i <= SECONDS * RATE; i++) {
    const e = parseAnalyticsEvent(JSON.stringify(events.next().value)) as EnrichedEvent; // as the role's coordinator hands it to its sinks
    const p = partitionOf(e.visitor_id, PARTITIONS);
    const t = EVENT_TOPICS.indexOf(topicFor(e.event_type));
    const offset = next[p][t]++;
    const at = start + (i * 1000) / RATE;
    if (at - lastPoll >= 1000) {
      // The live role reads log end offsets every second; keeping up, every topic is at its end.
      lastPoll = at;
      engines.forEach((en, q) => {
        for (let x = 0; x < EVENT_TOPICS.length; x++) en.setLogOffsets(x, 0, next[q][x]);
        en.pollDone();
      });
    }
    engines[p].add(e, t, offset);
    detectors?.add(e, { topic: EVENT_TOPICS[t], partition: p, offset: String(offset), raw: '' });
    if (i % DRAIN_EVERY === 0) {
      // Open sessions and URL windows written every second, as SESSION_EMIT_INTERVAL_MS; commits follow each drain.
      const provisional = at - lastEmit >= 1000;
      if (provisional) lastEmit = at;
      for (const en of engines) {
        en.drain(provisional);
        for (let x = 0; x < EVENT_TOPICS.length; x++) {
          const cp = en.commitPoint(x);
          if (cp) en.committed(x, cp.offset);
        }
      }
      await detectors?.flush();
    }
    if (i % (RATE * 10) === 0) {
      const s = i / RATE;
      const u = usage();
      const sessions = engines.reduce((n, en) => n + en.openSessions, 0);
      const windows = engines.reduce((n, en) => n + en.openWindows, 0);
      console.log(`${`${s} s`.padStart(10)}  ${`${int(u.heap)} MB`.padStart(9)}  ${`${int(u.buffers)} MB`.padStart(13)}  ${`${int(u.heap + u.buffers - base.heap - base.buffers)} MB`.padStart(28)}  ${int(sessions).padStart(13)}  ${int(windows).padStart(12)}`);
      if (SNAPSHOT_AT.has(s)) {
        mkdirSync(DATA_DIR, { recursive: true });
        log(`heap snapshot ${writeHeapSnapshot(path.join(DATA_DIR, `analytics-${s}s.heapsnapshot`))}`);
      }
    }
  }
  log(`${int(alerts)} alerts raised`);
});
