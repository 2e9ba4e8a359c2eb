/**
 * bench:analytics-live — CPU per event of the analytics engine (processor/analytics, no Kafka, no
 * Elasticsearch) fed the way the live role feeds it: bench:processor's traffic (browsers' batches
 * of 20 repeating after --pool, enriched by the gateway's own code) at --rate events/s of event
 * time for --seconds, each record serialised and parsed as the role parses it (so every id and
 * URL is a fresh string, as after a Kafka fetch), the open KPI windows written every 250 ms (the
 * KPI timer), a flush every 250 ms writing the other open structures every second, log end
 * offsets read every second, commits after each flush. Timed apart: making the input (generate,
 * serialise, parse) and the engine (the coordinator's readability check just before each add, as
 * the role runs it, add, drains, commit points); the engine's share is what the issue's 15 µs per
 * event is about.
 *
 *   npm run bench:analytics-live -- [--seconds 60] [--rate 10000] [--partitions 6] [--pool 2000]
 *                                   [--root DIR] [--profile]
 *
 * --root: measure the engine of another checkout (same input, same drains), for an A/B in the
 * same minutes; the digest line (every document written, in any order) must then be the same.
 * --pool: browsers whose batches repeat (2,000 as bench:processor's live traffic; a larger pool
 * gives more distinct visitors and sessions per window).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EVENT_TOPICS, topicFor } from '../contracts/topics.js';
import { loadConfig } from '../common/config.js';
import { resolveDataDir } from '../infra/paths.js';
import type { PartitionEngine } from '../processor/analytics/engine.js';
import type { AnalyticsEvent } from '../processor/analytics/analytics-event.js';
import { parseAnalyticsEvent } from '../processor/layout-parse.js';
import { isReadableEvent } from '../processor/readable.js';
import { engineOptionsFromConfig } from '../processor/main.js';
import { parseArgs } from './lib/args.js';
import { enrichedStream } from './lib/enriched.js';
import { startProfile, stopProfile } from './lib/in-process-profile.js';
import { partitionOf } from './lib/partition-of.js';
import { log, runBench } from './lib/run.js';
import { int, loadAverage, table } from './lib/stats.js';

const a = parseArgs();
const SECONDS = a.num('seconds', 60);
const RATE = a.num('rate', 10_000);
const PARTITIONS = a.num('partitions', 6);
const POOL = a.num('pool', 2000);
const ROOT = path.resolve(a.str('root', '.'));
const PROFILE = a.flag('profile');
const DATA_DIR = resolveDataDir(a.str('data-dir', '.data/bench/analytics-live'));
const TARGET_US = 15;
/** The role's flush and KPI timer period (PROCESSOR_FLUSH_INTERVAL_MS, KPI_EMIT_INTERVAL_MS) and SESSION_EMIT_INTERVAL_MS. */
const FLUSH_MS = 250;
const OTHERS_MS = 1000;

const cpuNow = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const gc = (globalThis as { gc?: () => void }).gc;

await runBench('bench:analytics-live', 1800, async () => {
  const { PartitionEngine: Engine } = (await import(pathToFileURL(path.join(ROOT, 'processor/analytics/engine.ts')).href)) as { PartitionEngine: typeof PartitionEngine };
  const options = engineOptionsFromConfig(loadConfig({}));
  log(`analytics engine of ${ROOT}: ${SECONDS} s of event time at ${int(RATE)} events/s, pool ${int(POOL)} browsers, ${PARTITIONS} partitions; load ${await loadAverage()}`);
  const start = Date.UTC(2026, 0, 1);
  const events = enrichedStream(RATE, 'live', start, POOL, 11);
  const engines = Array.from({ length: PARTITIONS }, (_, partition) => new Engine({ ...options, partition, topics: EVENT_TOPICS }));
  const next = engines.map(() => new Array<number>(EVENT_TOPICS.length).fill(0));
  const perFlush = Math.max(1, Math.round((RATE * FLUSH_MS) / 1000));
  const total = SECONDS * RATE;
  const batch: { e: AnalyticsEvent; p: number; t: number }[] = [];
  const docs = { kpis: 0, urlStats: 0, sessions: 0 };
  let digest = 0n;
  let inputUs = 0;
  let engineUs = 0;
  let lastOthers = -Infinity;
  let lastPoll = -Infinity;
  /** Largest heap after GC of the samples every 10 s of event time (the engines' state while traffic flows). */
  let heapMb = 0;
  const session = PROFILE ? await startProfile() : null;
  for (let done = 0; done < total; ) {
    const c0 = cpuNow();
    batch.length = 0;
    for (let i = 0; i < perFlush && done + i < total; i++) {
      const e = parseAnalyticsEvent(JSON.stringify(events.next().value)) as AnalyticsEvent;
      batch.push({ e, p: partitionOf(e.visitor_id, PARTITIONS), t: EVENT_TOPICS.indexOf(topicFor(e.event_type)) });
    }
    const c1 = cpuNow();
    const at = start + ((done + batch.length) * 1000) / RATE;
    const out = [];
    for (const { e, p, t } of batch) {
      if (at - lastPoll >= 1000) {
        // The live role reads log end offsets every second; keeping up, every topic is at its end.
        lastPoll = at;
        engines.forEach((en, q) => {
          for (let x = 0; x < EVENT_TOPICS.length; x++) en.setLogOffsets(x, 0, next[q][x]);
          en.pollDone();
        });
      }
      // The coordinator's check just before the sinks get the event: it parses the event time, which the engine then reuses.
      if (!isReadableEvent(e)) throw new Error('the traffic generator wrote an unreadable event');
      engines[p].add(e, t, next[p][t]++);
    }
    const last = done + batch.length >= total;
    const others = last ? true : at - lastOthers >= OTHERS_MS ? 'others' : false;
    if (others) lastOthers = at;
    for (const en of engines) {
      if (!last) out.push(...en.openKpiDocs());
      out.push(...en.drain(last ? true : others));
      for (let x = 0; x < EVENT_TOPICS.length; x++) {
        const cp = en.commitPoint(x);
        if (cp) en.committed(x, cp.offset);
      }
    }
    if (last) {
      // Traffic over: every window and session closes, so their final documents are in the digest too.
      for (const en of engines) {
        en.advanceWatermark(Infinity);
        out.push(...en.drain(true));
      }
    }
    const c2 = cpuNow();
    inputUs += c1 - c0;
    engineUs += c2 - c1;
    done += batch.length;
    for (const d of out) {
      docs[d.index]++;
      // Order-free: the sum of every document's hash (index, id and content).
      digest += BigInt(`0x${createHash('sha1').update(`${d.index}\u0000${d.id}\u0000${JSON.stringify(d.doc)}`).digest('hex').slice(0, 15)}`);
    }
    if (done % (RATE * 10) < perFlush && gc && !last) {
      gc();
      heapMb = Math.max(heapMb, process.memoryUsage().heapUsed / 1e6);
      const open = engines.reduce((n, en) => n + en.openWindows, 0);
      log(`${Math.round(done / RATE)} s: heap after GC ${int(process.memoryUsage().heapUsed / 1e6)} MB, ${int(engines.reduce((n, en) => n + en.openSessions, 0))} open sessions, ${int(open)} open windows`);
    }
  }
  if (session) await stopProfile(session, path.join(DATA_DIR, 'analytics-live.cpuprofile'), ['add', 'drain', 'openKpiDocs'], 'the run, input included');
  const heap = gc ? `${int(heapMb)} MB after GC` : 'not measured (no --expose-gc)';
  console.log('\n=== bench:analytics-live ===');
  console.log(table(['measure', 'value'], [
    ['engine CPU per event (add, drains, commit points)', `${(engineUs / total).toFixed(2)} µs`],
    ['input CPU per event (generate, serialise, parse)', `${(inputUs / total).toFixed(2)} µs`],
    ['documents (KPI / URL x country / sessions)', `${int(docs.kpis)} / ${int(docs.urlStats)} / ${int(docs.sessions)}`],
    ['digest of every document', digest.toString(16).padStart(16, '0')],
    ['heap while traffic flows (largest, every 10 s)', heap],
    ['peak RSS', `${int(process.resourceUsage().maxRSS / 1e3)} MB`],
  ]));
  console.log(`target: <= ${TARGET_US} µs CPU per event: ${engineUs / total <= TARGET_US ? 'met' : 'NOT met'}`);
});
