/**
 * bench:analytics — the analytics engine alone (processor/analytics, no Kafka, no Elasticsearch):
 * CPU microseconds per event and events per second over a generated stream, as the analytics role
 * drives it. The processor's target is at most 15 µs of CPU per event for this part; the rest of
 * the role (Kafka fetch, JSON.parse, bulk writes) is measured by bench:processor.
 *
 *   npm run bench:analytics -- [--events 300000] [--reps 3] [--partitions 6] [--rate 10000]
 *                              [--flush-events 2000] [--emit-ms 500] [--profile]
 *
 * The stream: the traffic generator's shoppers enriched by the gateway's own code (one visitor per
 * batch of 20, `--rate` events/s of event time), split by visitor over `--partitions` engines and
 * by event type over the four topics, offsets counted per topic-partition. Like the live role: a
 * drain (flush) every `--flush-events` events, provisional documents every `--emit-ms` of event
 * time, log end offsets read every second (every topic caught up, so the watermark follows the
 * traffic), commits after each drain. Timed: add + drain + commit points only (JSON.parse of the
 * same events is timed apart, for comparison). `--profile` profiles the last repetition and
 * prints where its time went.
 */
import path from 'node:path';
import type { EnrichedEvent } from '../contracts/event-schema.js';
import { EVENT_TOPICS, topicFor } from '../contracts/topics.js';
import { windowSpecs } from '../contracts/windows.js';
import { loadConfig } from '../common/config.js';
import { resolveDataDir } from '../infra/paths.js';
import { PartitionEngine } from '../processor/analytics/engine.js';
import { engineOptionsFromConfig } from '../processor/main.js';
import { parseAnalyticsEvent } from '../processor/layout-parse.js';
import { parseArgs } from './lib/args.js';
import { partitionOf } from './lib/partition-of.js';
import { enrichedEvents } from './lib/enriched.js';
import { startProfile, stopProfile } from './lib/in-process-profile.js';
import { log, runBench } from './lib/run.js';
import { int, loadAverage, median, table } from './lib/stats.js';

const a = parseArgs();
const N = a.num('events', 300_000);
const REPS = a.num('reps', 3);
const PARTITIONS = a.num('partitions', 6);
const RATE = a.num('rate', 10_000);
const FLUSH_EVENTS = a.num('flush-events', 2000);
const EMIT_MS = a.num('emit-ms', 500);
const PROFILE = a.flag('profile');
const TARGET_US = 15;
const DATA_DIR = resolveDataDir(a.str('data-dir', '.data/bench/analytics'));

interface Routed {
  event: EnrichedEvent;
  partition: number;
  topic: number;
  offset: number;
}

interface RepResult {
  cpuUs: number;
  wallMs: number;
  addUs: number;
  drainUs: number;
  docs: number;
  late: number;
  repeats: number;
  openWindows: number;
  openSessions: number;
  heapMb: number;
}

/** Fresh engines, fed the whole stream as the analytics role would. */
function run(stream: Routed[], eventTimeMs: number[]): RepResult {
  const config = loadConfig({});
  const topics = EVENT_TOPICS;
  const options = engineOptionsFromConfig(config);
  const engines = Array.from({ length: PARTITIONS }, (_, partition) => new PartitionEngine({ ...options, partition, topics }));
  const logEnd = Array.from({ length: PARTITIONS }, () => new Array<number>(topics.length).fill(0));
  let docs = 0;
  let drainNs = 0n;
  let lastEmit = -Infinity;
  let lastPoll = -Infinity;
  const drainAll = (at: number) => {
    const t0 = process.hrtime.bigint();
    const provisional = at - lastEmit >= EMIT_MS;
    if (provisional) lastEmit = at;
    for (const e of engines) {
      docs += e.drain(provisional).length;
      for (let t = 0; t < topics.length; t++) {
        const cp = e.commitPoint(t);
        if (cp) e.committed(t, cp.offset);
      }
    }
    drainNs += process.hrtime.bigint() - t0;
  };
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let i = 0; i < stream.length; i++) {
    const r = stream[i];
    const at = eventTimeMs[i];
    if (at - lastPoll >= 1000) {
      // The live role reads log end offsets every second; caught up, every topic is at its end.
      lastPoll = at;
      engines.forEach((e, p) => {
        for (let t = 0; t < topics.length; t++) e.setLogOffsets(t, 0, logEnd[p][t]);
        e.pollDone();
      });
    }
    engines[r.partition].add(r.event, r.topic, r.offset);
    logEnd[r.partition][r.topic] = r.offset + 1;
    if ((i + 1) % FLUSH_EVENTS === 0) drainAll(at);
  }
  drainAll(Infinity);
  const wallMs = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = cpu.user + cpu.system;
  let late = 0;
  let repeats = 0;
  for (const e of engines) {
    for (const n of Object.values(e.takeLate())) late += n;
    repeats += e.takeRepeats();
  }
  const drainUs = Number(drainNs) / 1000;
  return {
    cpuUs,
    wallMs,
    addUs: wallMs * 1000 - drainUs,
    drainUs,
    docs,
    late,
    repeats,
    openWindows: engines.reduce((s, e) => s + e.openWindows, 0),
    openSessions: engines.reduce((s, e) => s + e.openSessions, 0),
    heapMb: process.memoryUsage().heapUsed / 2 ** 20,
  };
}

await runBench('bench:analytics', 1800, async () => {
  log(`analytics engine bench: ${int(N)} events x ${REPS} repetitions, ${PARTITIONS} partitions, windows ${windowSpecs(loadConfig({})).map((s) => s.kind).join(' + ')}; loadavg / cpu pressure ${await loadAverage()}`);
  const t0 = performance.now();
  // One visitor per batch of 20 and no batch repeated: as many distinct visitors as a real stream of this size.
  const { docs } = enrichedEvents(N, RATE, `a${Date.now().toString(36)}`, Math.ceil(N / 20));
  const json = docs.map((d) => JSON.stringify(d));
  const offsets = new Map<string, number>();
  const stream: Routed[] = docs.map((event) => {
    const partition = partitionOf(event.visitor_id, PARTITIONS);
    const topic = EVENT_TOPICS.indexOf(topicFor(event.event_type));
    const key = `${partition}:${topic}`;
    const offset = offsets.get(key) ?? 0;
    offsets.set(key, offset + 1);
    return { event, partition, topic, offset };
  });
  // The clock the live role would read: events arrive at RATE per second.
  const startMs = Date.parse(docs[0].received_at);
  const eventTimeMs = docs.map((_, i) => startMs + (i * 1000) / RATE);
  log(`generated ${int(N)} events in ${((performance.now() - t0) / 1000).toFixed(1)} s (${int(new Set(docs.map((d) => d.visitor_id)).size)} visitors, ${int(new Set(docs.map((d) => d.session_id)).size)} sessions)`);

  // JSON.parse of the same records, for comparison, and the analytics role's own parse of the
  // fields it reads (processor/layout-parse.ts), in turn, three times each: the best of each.
  const parseCost = (parse: (s: string) => unknown) => {
    const p0 = process.cpuUsage();
    let parsed = 0;
    for (const s of json) parsed += (parse(s) as Pick<EnrichedEvent, 'event_id'>).event_id.length > 0 ? 1 : 0;
    const pc = process.cpuUsage(p0);
    return (pc.user + pc.system) / parsed;
  };
  let parseUs = Infinity;
  let layoutUs = Infinity;
  for (let i = 0; i < 3; i++) {
    parseUs = Math.min(parseUs, parseCost(JSON.parse));
    layoutUs = Math.min(layoutUs, parseCost(parseAnalyticsEvent));
  }

  const results: RepResult[] = [];
  for (let r = 1; r <= REPS; r++) {
    const profiled = PROFILE && r === REPS;
    const session = profiled ? await startProfile() : null;
    const res = run(stream, eventTimeMs);
    results.push(res);
    log(
      `#${r}: ${(res.cpuUs / N).toFixed(2)} µs CPU/event, ${int(N / (res.wallMs / 1000))} events/s (add ${(res.addUs / N).toFixed(2)} µs, drain ${(res.drainUs / N).toFixed(2)} µs per event wall); ${int(res.docs)} documents, ${int(res.late)} late, ${int(res.repeats)} repeats; heap ${res.heapMb.toFixed(0)} MB`,
    );
    if (session) await stopProfile(session, path.join(DATA_DIR, 'analytics.cpuprofile'), ['add', 'drain', 'drainAll'], `repetition #${r}`);
  }
  const cpuPerEvent = median(results.map((r) => r.cpuUs / N));
  const rate = median(results.map((r) => N / (r.wallMs / 1000)));
  console.log('\n=== bench:analytics ===');
  console.log(table(['measure (median)', 'value'], [
    ['engine CPU per event', `${cpuPerEvent.toFixed(2)} µs`],
    ['engine events/s (one core)', int(rate)],
    ['  of which add (wall)', `${median(results.map((r) => r.addUs / N)).toFixed(2)} µs/event`],
    ['  of which drain + commit points (wall)', `${median(results.map((r) => r.drainUs / N)).toFixed(2)} µs/event`],
    ['JSON.parse of the same records', `${parseUs.toFixed(2)} µs/event`],
    ['the analytics role\'s parse (its 16 fields)', `${layoutUs.toFixed(2)} µs/event (${((layoutUs / parseUs) * 100).toFixed(0)} % of JSON.parse)`],
    ['documents emitted per event', (median(results.map((r) => r.docs)) / N).toFixed(3)],
  ]));
  console.log(`target: <= ${TARGET_US} µs CPU per event: ${cpuPerEvent <= TARGET_US ? 'met' : 'NOT met'}`);
});
