/**
 * bench:kpi-bulk-wait — how long a KPI bulk (the open KPI windows one KPI timer tick writes) takes
 * in Elasticsearch while a flush's sessions and URL x country documents are being written, sent in
 * one request or in parts of --parts documents one after another (SESSION_BULK_DOCS), and alone
 * (with and without a refresh of the KPI index per bulk, ES_KPI_BULK_REFRESH, and into a copy of
 * the KPI index whose translog is fsynced every 5 s instead of before each acknowledgement), and
 * split into lanes of partitions written at once (KPI_BULK_LANES).
 *
 * With --raw, other modes: the same tick behind a flush's request while raw events are indexed
 * back to back as the index role does when it catches up (bulks of PROCESSOR_BATCH_SIZE, one in
 * flight), in bulks of --raw-parts, or in bulks that take at most half of the time (a pause as
 * long as each bulk after it).
 *
 *   npm run bench:kpi-bulk-wait -- [--es-url http://127.0.0.1:9200] [--seconds 20] [--rate 10000] [--rounds 30] [--parts 500] [--raw [--raw-parts 500]]
 *
 * The documents are the analytics engine's own (the freshness phase's traffic at --rate events/s
 * of event time, 6 partitions keyed by visitor): per 250 ms the open KPI windows that changed, per
 * second the open sessions and URL x country windows. Modes alternate round by round; indices
 * `bench-kpiwait-*` are created with the project's templates and deleted at the end. Against any
 * Elasticsearch (ES_URL by default); nothing else is started.
 */
import { Client } from '@elastic/elasticsearch';
import { EVENT_TOPICS, topicFor } from '../contracts/topics.js';
import { eventDocId, eventIndexFor, indexNames, kpiIndexSettings, kpiMappings } from '../contracts/indices.js';
import { loadConfig } from '../common/config.js';
import { partitionOf } from '../gateway/platformatic-driver.js';
import { installTemplates } from '../infra/setup-indices.js';
import { docVersion, PartitionEngine, type OutDoc } from '../processor/analytics/engine.js';
import { bulkIndex } from '../processor/es-bulk.js';
import { parseAnalyticsEvent } from '../processor/layout-parse.js';
import { engineOptionsFromConfig } from '../processor/main.js';
import type { EnrichedEvent } from '../contracts/event-schema.js';
import { parseArgs } from './lib/args.js';
import { enrichedStream } from './lib/enriched.js';
import { log, onCleanup, runBench } from './lib/run.js';
import { int, loadAverage, ms, percentile, table } from './lib/stats.js';

const a = parseArgs();
const config = loadConfig({});
const ES_URL = a.str('es-url', config.esUrl);
const SECONDS = a.num('seconds', 20);
const RATE = a.num('rate', 10_000);
const ROUNDS = a.num('rounds', 30);
const PARTS = Math.max(1, a.num('parts', 500));
const RAW = a.flag('raw');
const RAW_PARTS = Math.max(1, a.num('raw-parts', 500));
/** Raw events kept for the raw-indexing modes (written again under new ids round by round). */
const RAW_KEPT = 40_000;
const PARTITIONS = 6;
const PREFIX = 'bench-kpiwait';

await runBench('bench:kpi-bulk-wait', 1200, async () => {
  log(`KPI bulk wait: documents of ${SECONDS} s at ${int(RATE)} events/s of event time, ${ROUNDS} rounds per mode, parts of ${int(PARTS)}; Elasticsearch ${ES_URL}; load ${await loadAverage()}`);
  const es = new Client({ node: ES_URL, requestTimeout: 60_000 });
  onCleanup('es client', () => es.close());
  await installTemplates(ES_URL, PREFIX, { replicas: 0 });
  onCleanup('indices', () => es.indices.delete({ index: `${PREFIX}-*`, ignore_unavailable: true, allow_no_indices: true }).then(() => {}));
  const names = indexNames(PREFIX);
  // The KPI index once more with an asynchronous translog (fsync every 5 s, not before each acknowledgement).
  const asyncKpis = `${PREFIX}-async-kpis`;
  await es.indices.create({ index: asyncKpis, settings: { ...kpiIndexSettings(config), 'index.number_of_replicas': 0, 'index.translog.durability': 'async' }, mappings: kpiMappings as never });
  const write = (docs: OutDoc[], refresh = false, kpiIndex = names.kpis) => bulkIndex(es, docs, (d) => ({ index: d.index === 'kpis' ? kpiIndex : names[d.index], id: d.id, version: docVersion(d) }), (d) => d.doc, { refresh });

  // The engine's documents, as the analytics role drains them: KPI ticks every 250 ms, the rest every second.
  const start = Date.now() - (SECONDS + 60) * 1000;
  const events = enrichedStream(RATE, `w${Date.now().toString(36)}`, start, 2000, 11);
  const engines = Array.from({ length: PARTITIONS }, (_, partition) => new PartitionEngine({ ...engineOptionsFromConfig(config), partition, topics: EVENT_TOPICS }));
  const next = engines.map(() => new Array<number>(EVENT_TOPICS.length).fill(0));
  const ticks: OutDoc[][] = [];
  const seconds: OutDoc[][] = [];
  const raw: EnrichedEvent[] = [];
  for (let i = 1; i <= SECONDS * RATE; i++) {
    const full = events.next().value as EnrichedEvent;
    if (RAW && raw.length < RAW_KEPT) raw.push(full);
    const e = parseAnalyticsEvent(JSON.stringify(full)) as EnrichedEvent;
    const p = partitionOf(e.visitor_id, PARTITIONS);
    const t = EVENT_TOPICS.indexOf(topicFor(e.event_type));
    engines[p].add(e, t, next[p][t]++);
    if (i % (RATE / 4) === 0) ticks.push(engines.flatMap((en) => en.openKpiDocs()));
    if (i % RATE === 0) seconds.push(engines.flatMap((en) => en.drain('others').filter((d) => d.index !== 'kpis')));
  }
  const perTick = ticks.slice(4).map((x) => x.length);
  const perSecond = seconds.slice(1).map((x) => x.length);
  log(`KPI documents per 250 ms tick: p50 ${int(percentile(perTick, 50))}, max ${int(Math.max(...perTick))}; sessions and URL x country documents per second: p50 ${int(percentile(perSecond, 50))}, max ${int(Math.max(...perSecond))}`);

  // Warm the indices (mappings, first segments) before timing.
  for (const s of seconds.slice(0, 2)) await write(s);
  await write(ticks[0], false, asyncKpis);
  // behind: what of a flush's is being written meanwhile; lanes: the tick's documents split by
  // partition modulo lanes into that many bulks at once (KPI_BULK_LANES).
  type Mode = { name: string; behind: 'nothing' | 'one' | 'parts'; refresh?: boolean; async?: boolean; lanes?: number; raw?: { size: number; duty: number } };
  const batch = config.processorBatchSize;
  const rawModes: Mode[] = [
    { name: 'behind one request', behind: 'one' },
    { name: `behind one request, raw events in bulks of ${int(batch)} back to back`, behind: 'one', raw: { size: batch, duty: 1 } },
    { name: `behind one request, raw events in bulks of ${int(RAW_PARTS)} back to back`, behind: 'one', raw: { size: RAW_PARTS, duty: 1 } },
    { name: `behind one request, raw events in bulks of ${int(batch)}, half of the time`, behind: 'one', raw: { size: batch, duty: 0.5 } },
  ];
  const modes: Mode[] = RAW ? rawModes : [
    { name: 'alone', behind: 'nothing' },
    { name: 'alone, refresh=true (ES_KPI_BULK_REFRESH)', behind: 'nothing', refresh: true },
    { name: 'alone, translog async', behind: 'nothing', async: true },
    { name: 'behind one request', behind: 'one' },
    { name: `behind parts of ${int(PARTS)}`, behind: 'parts' },
    { name: 'behind one request, translog async', behind: 'one', async: true },
    { name: 'behind one request, 2 lanes (KPI_BULK_LANES)', behind: 'one', lanes: 2 },
    { name: 'behind one request, 3 lanes', behind: 'one', lanes: 3 },
    { name: 'behind one request, 2 lanes, translog async', behind: 'one', lanes: 2, async: true },
  ];
  const writeTick = async (docs: OutDoc[], m: Mode) => {
    const lanes = m.lanes ?? 1;
    const parts = Array.from({ length: lanes }, (_, l) => docs.filter((d) => d.doc.partition % lanes === l));
    await Promise.all(parts.map((part) => write(part, m.refresh ?? false, m.async ? asyncKpis : names.kpis)));
  };
  // Raw events indexed back to back (as the index role catching up) while the tick is timed; each
  // cycle under new ids, so Elasticsearch adds documents as it does live instead of replacing them.
  let cycle = 0;
  const rawLoad = (size: number, duty: number) => {
    let stop = false;
    let written = 0;
    const done = (async () => {
      while (!stop) {
        const start = written % raw.length;
        const part = raw.slice(start, start + size);
        const c = cycle++;
        const t0 = performance.now();
        await bulkIndex(es, part, (e) => ({ index: eventIndexFor(PREFIX, e.received_at), id: `${eventDocId(e)}-${c}` }));
        written += part.length;
        const took = performance.now() - t0;
        if (duty < 1 && !stop) await new Promise((ok) => setTimeout(ok, (took * (1 - duty)) / duty));
      }
    })();
    return async () => {
      stop = true;
      await done;
    };
  };
  const took = new Map<string, number[]>(modes.map((m) => [m.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < modes.length; k++) {
      // A different tick and second each round; the order of the modes turns round by round.
      const m = modes[(k + r) % modes.length];
      const kpis = ticks[(r * modes.length + k) % ticks.length];
      const others = seconds[(r * modes.length + k) % seconds.length];
      const stopRaw = m.raw ? rawLoad(m.raw.size, m.raw.duty) : null;
      // In its steady pace before the flush and the tick come.
      if (stopRaw) await new Promise((ok) => setTimeout(ok, 1000));
      const other = m.behind === 'nothing' ? Promise.resolve() : (async () => {
        const size = m.behind === 'one' ? others.length : PARTS;
        for (let i = 0; i < others.length; i += size) await write(others.slice(i, i + size));
      })();
      // The KPI tick comes while the flush's write is under way, as the timer's does.
      await new Promise((ok) => setTimeout(ok, 20));
      const t0 = performance.now();
      await writeTick(kpis, m);
      took.get(m.name)!.push(performance.now() - t0);
      await other;
      await stopRaw?.();
    }
  }
  console.log(`\n=== bench:kpi-bulk-wait (load ${await loadAverage()}) ===`);
  console.log(table(['KPI bulk of one tick', 'p50', 'p95', 'max', 'rounds'], modes.map(({ name }) => [name, ms(percentile(took.get(name)!, 50), 0), ms(percentile(took.get(name)!, 95), 0), ms(Math.max(...took.get(name)!), 0), took.get(name)!.length])));
});
