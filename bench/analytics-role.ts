/**
 * bench:analytics-role — the analytics role's own CPU per event without services: Kafka record
 * batches (the gateway's enriched JSON, keyed by visitor over --partitions partitions) decoded by
 * the processor's Kafka client (--client kafkajs | platformatic) and handed over as its adapter
 * does, then the Coordinator with the role's real sinks (analytics engine, stream detectors),
 * flushes and commits included. Elasticsearch answers every bulk at once (a stub connection), Kafka
 * commits too; the clock is simulated (--rate events/s consumed), so flushes, KPI emits and offset
 * polls come as often per event whatever the machine's load. What bench:processor measures beside
 * Kafka and Elasticsearch, without them: what the role's code costs, A/B in one process.
 *
 *   npm run bench:analytics-role -- [--events 150000] [--reps 3] [--partitions 6] [--batch 800]
 *                                   [--rate 50000] [--client kafkajs,platformatic] [--ab-root DIR] [--profile]
 *
 * --ab-root DIR: the same role from another checkout (DIR/processor/..., e.g. a worktree of main),
 * alternated with this one in each repetition (order swapped every repetition).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import { Client } from '@elastic/elasticsearch';
import { BaseConnection, type ConnectionRequestParams } from '@elastic/transport';
import { compatibilityPartitioner, createRecordsBatch } from '@platformatic/kafka';
import { pino } from 'pino';
import { EVENT_TOPICS, topicFor } from '../contracts/topics.js';
import { loadConfig } from '../common/config.js';
import { resolveDataDir } from '../infra/paths.js';
import { PROJECT_ROOT } from '../infra/paths.js';
import { parseArgs } from './lib/args.js';
import { summarise } from './lib/cpuprofile.js';
import { enrichedEvents } from './lib/enriched.js';
import { log, runBench } from './lib/run.js';
import { int, loadAverage, median, table } from './lib/stats.js';

const a = parseArgs();
const N = a.num('events', 150_000);
const REPS = a.num('reps', 3);
const PARTITIONS = a.num('partitions', 6);
const BATCH = a.num('batch', 800);
const RATE = a.num('rate', 50_000);
const CLIENTS = a.str('client', 'kafkajs,platformatic').split(',').filter(Boolean);
const AB_ROOT = a.str('ab-root', '');
const PROFILE = a.flag('profile');
const DATA_DIR = resolveDataDir(a.str('data-dir', '.data/bench/analytics-role'));

/** The partition the gateway's producer picks for a visitor (Java's and kafkajs's murmur2). */
const partitionOf = (key: string): number => compatibilityPartitioner({} as never, Buffer.from(key)) % PARTITIONS;

/** Answers every request at once: a bulk with one success per action line, anything else `{}`. */
class StubConnection extends BaseConnection {
  override async request(params: ConnectionRequestParams): Promise<never> {
    let body = '{}';
    if (params.path.endsWith('/_bulk')) {
      const text = typeof params.body === 'string' ? params.body : Buffer.isBuffer(params.body) ? params.body.toString('utf8') : '';
      const items: string[] = [];
      let at = 0;
      for (let line = 0; at < text.length; line++) {
        const end = text.indexOf('\n', at);
        if (line % 2 === 0) items.push(text.startsWith('{"create"', at) ? '{"create":{"status":201,"_seq_no":0,"_primary_term":1}}' : '{"index":{"status":200}}');
        at = end < 0 ? text.length : end + 1;
      }
      body = `{"errors":false,"items":[${items.join(',')}]}`;
    }
    await yieldLoop();
    return { body, statusCode: 200, headers: { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' } } as never;
  }

  override async close(): Promise<void> {}
}

/** One fetched batch: a topic-partition's records as the broker sends them (record batch v2 bytes). */
interface Fetched {
  topic: string;
  partition: number;
  firstOffset: number;
  bytes: Buffer;
  count: number;
}

/** The modules of the role from one checkout (this one, or --ab-root's). */
async function roleModules(root: string) {
  const m = (p: string) => import(path.join(root, p));
  return {
    root,
    coordinator: await m('processor/coordinator.ts'),
    analytics: await m('processor/sinks/analytics-sink.ts'),
    alerts: await m('processor/sinks/alerts-sink.ts'),
    main: await m('processor/main.ts'),
    options: await m('processor/anomaly/options.ts'),
    parse: await m('processor/layout-parse.ts'),
    deadLetters: await m('processor/dead-letters.ts'),
    metrics: await m('processor/metrics.ts'),
    platformatic: await m('processor/platformatic-consumer.ts'),
    fetch: await m('processor/kafka-fetch.ts').catch(() => null),
  };
}
type Role = Awaited<ReturnType<typeof roleModules>>;

/** kafkajs's decoding of a record batch (what its fetch response decoder does per batch), as its adapter hands records over. */
async function kafkajsDecoder(): Promise<(f: Fetched) => Promise<{ offset: string; value: string | null; bytes?: Uint8Array | null }[]>> {
  const { default: Decoder } = (await import('kafkajs/src/protocol/decoder.js' as string)) as { default: new (b: Buffer) => unknown };
  const { default: decodeBatch } = (await import('kafkajs/src/protocol/recordBatch/v0/decoder.js' as string)) as { default: (d: unknown) => Promise<{ records: { offset: string; value: Buffer | null }[] }> };
  return async (f) => {
    const { records } = await decodeBatch(new Decoder(f.bytes));
    return records.map((m) => ({ offset: m.offset, value: m.value ? m.value.toString('utf8') : null, bytes: m.value }));
  };
}

async function platformaticDecoder(role: Role): Promise<(f: Fetched) => Promise<{ offset: string; value: string | null; bytes?: Uint8Array | null }[]>> {
  const { Reader, readRecordsBatches } = await import('@platformatic/kafka');
  // The adapter's own Fetch reads a partition's bytes itself when the checkout has it.
  const raw = role.fetch?.decodeRecords as ((bytes: Buffer, from: bigint) => { records: { offset: string; value: string | null }[] }) | undefined;
  if (raw) return async (f) => raw(f.bytes, BigInt(f.firstOffset)).records;
  // The adapter's own hand-over when the checkout has it (recordsFrom), else what it did inline.
  const own = role.platformatic.recordsFrom as ((batches: unknown[], from: bigint) => { offset: string; value: string | null }[]) | undefined;
  return async (f) => {
    const batches = readRecordsBatches(Reader.from(f.bytes));
    if (own) return own(batches, BigInt(f.firstOffset));
    const records = [];
    for (const batch of batches) for (const rec of batch.records) records.push({ offset: (batch.firstOffset + BigInt(rec.offsetDelta)).toString(), value: rec.value ? rec.value.toString('utf8') : null, bytes: rec.value });
    return records;
  };
}

interface RepResult {
  cpuUsPerEvent: number;
  eventsPerS: number;
  flushes: number;
  alerts: number;
}

async function runOnce(role: Role, client: string, fetched: Fetched[], profileTo: string | null): Promise<RepResult> {
  const config = loadConfig({});
  const topics = EVENT_TOPICS.map((t) => t);
  const es = new Client({ node: 'http://stub:9200', Connection: StubConnection });
  let simNow = 1_000_000;
  const now = () => simNow;
  const quiet = pino({ level: 'silent' });
  const analytics = role.analytics.analyticsSink({
    client: es,
    indexPrefix: 'bench',
    topics,
    engine: role.main.engineOptionsFromConfig(config),
    emitIntervalMs: config.kpiEmitIntervalMs,
    sessionEmitIntervalMs: config.sessionEmitIntervalMs,
    // The timer between flushes is wall clock: here the KPI windows go with the flushes (simulated clock).
    kpiEmitBetweenFlushes: false,
    idleAdvanceMs: 0,
    now,
  });
  let alerts = 0;
  const alertSink = role.alerts.alertsSink({ client: es, indexPrefix: 'bench', detectors: role.options.anomalyOptionsFromConfig(config), topics, outbox: null, onAlert: () => alerts++ });
  const logEnd = new Map<string, number>();
  let flushes = 0;
  const metrics = role.metrics.processorMetrics();
  const coordinator = new role.coordinator.Coordinator({
    topics,
    sinks: [analytics, alertSink],
    port: {
      fetchCommitted: async (ts: string[], partition: number) => ts.map((topic) => ({ topic, partition, offset: null, metadata: null })),
      commit: async () => {
        flushes++;
      },
      logOffsets: async (ts: string[]) => ts.flatMap((topic) => Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, low: '0', high: String(logEnd.get(`${topic}/${partition}`) ?? 0) }))),
      sendDeadLetters: async () => undefined,
    },
    deadLetters: new role.deadLetters.DeadLetterBuffer(config.deadLetterRawBytes),
    metrics,
    log: quiet,
    role: 'analytics',
    deadLetterUnreadable: false,
    parse: role.parse.parseAnalyticsEvent,
    // Undefined in a checkout whose role parses text only.
    parseBytes: role.parse.parseAnalyticsBytes,
    flushIntervalMs: config.processorFlushIntervalMs,
    batchSize: Infinity,
    maxRetryDelayMs: 1000,
    commitTimeoutMs: 10_000,
    clock: { now, sleep: async () => void (await yieldLoop()) },
  });
  await coordinator.assigned(topics.flatMap((topic) => Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition }))));
  const decode = client === 'kafkajs' ? await kafkajsDecoder() : await platformaticDecoder(role);
  const session = profileTo ? new Session() : null;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  let lastPoll = -Infinity;
  let events = 0;
  for (const f of fetched) {
    const records = await decode(f);
    const end = f.firstOffset + f.count;
    logEnd.set(`${f.topic}/${f.partition}`, end);
    await coordinator.batch({ topic: f.topic, partition: f.partition, records, highWatermark: String(end), current: () => true, heartbeat: async () => undefined });
    events += f.count;
    simNow = 1_000_000 + (events * 1000) / RATE;
    if (simNow - lastPoll >= 1000) {
      lastPoll = simNow;
      await coordinator.pollOffsets();
    }
    coordinator.tick();
    // The adapters give the loop a turn between partitions: flushes in flight go on.
    await yieldLoop();
  }
  await coordinator.idle();
  const wallMs = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  // Every event must have reached the sinks, or the CPU per event is of fewer events than it says.
  const handed = (await metrics.events.get()).values.reduce((sum: number, v: { value: number }) => sum + v.value, 0);
  if (handed !== events) throw new Error(`${client}: ${handed} of ${events} events handed to the sinks`);
  if (session && profileTo) {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(profileTo, JSON.stringify(profile));
  }
  await coordinator.stop();
  await es.close();
  return { cpuUsPerEvent: (cpu.user + cpu.system) / events, eventsPerS: events / (wallMs / 1000), flushes, alerts };
}

await runBench('bench:analytics-role', 1800, async () => {
  log(`analytics role bench: ${int(N)} events x ${REPS} repetitions, ${PARTITIONS} partitions, batches of ${BATCH}, clients ${CLIENTS.join(', ')}${AB_ROOT ? `, A/B against ${AB_ROOT}` : ''}; loadavg / cpu pressure ${await loadAverage()}`);
  const { docs } = enrichedEvents(N, 10_000, `r${Date.now().toString(36)}`, Math.ceil(N / 20));
  // Per topic-partition, its records in order; then fetched in turns of one batch per partition.
  const logs = new Map<string, { topic: string; partition: number; values: { key: string; value: string }[] }>();
  for (const d of docs) {
    const topic = topicFor(d.event_type);
    const partition = partitionOf(d.visitor_id);
    const k = `${topic}/${partition}`;
    let l = logs.get(k);
    if (!l) logs.set(k, (l = { topic, partition, values: [] }));
    l.values.push({ key: d.visitor_id, value: JSON.stringify(d) });
  }
  const fetched: Fetched[] = [];
  const cursors = [...logs.values()].map((l) => ({ l, at: 0 }));
  while (cursors.some((c) => c.at < c.l.values.length)) {
    for (const c of cursors) {
      if (c.at >= c.l.values.length) continue;
      const slice = c.l.values.slice(c.at, c.at + BATCH);
      const bytes = Buffer.from(createRecordsBatch(slice.map((v) => ({ topic: c.l.topic, key: Buffer.from(v.key), value: Buffer.from(v.value), timestamp: 0n }))).buffer);
      // The base offset is the broker's to write (the client's batch says 0): without it every
      // batch after a partition's first held offsets the Coordinator had seen, and was skipped.
      bytes.writeBigInt64BE(BigInt(c.at), 0);
      fetched.push({ topic: c.l.topic, partition: c.l.partition, firstOffset: c.at, bytes, count: slice.length });
      c.at += slice.length;
    }
  }
  const sides: { name: string; role: Role }[] = [{ name: 'this', role: await roleModules(PROJECT_ROOT) }];
  if (AB_ROOT) sides.push({ name: 'ab-root', role: await roleModules(path.resolve(AB_ROOT)) });
  const results = new Map<string, RepResult[]>();
  // Warm-up of every variant (JIT), not counted in the table: what it cost is what a process just
  // started pays (each instance of a role compiles its hot code itself).
  for (const s of sides) {
    for (const c of CLIENTS) {
      const cold = await runOnce(s.role, c, fetched.slice(0, Math.ceil(fetched.length / 4)), null);
      log(`warm-up ${s.name} ${c} (a quarter of the events, first in this process): ${cold.cpuUsPerEvent.toFixed(2)} µs CPU/event`);
    }
  }
  for (let r = 1; r <= REPS; r++) {
    const order = r % 2 === 0 ? [...sides].reverse() : sides;
    for (const s of order) {
      for (const c of r % 2 === 0 ? [...CLIENTS].reverse() : CLIENTS) {
        const key = `${s.name} ${c}`;
        const profileTo = PROFILE && r === REPS && s.name === 'this' ? path.join(DATA_DIR, `analytics-role-${c}.cpuprofile`) : null;
        if (profileTo) mkdirSync(DATA_DIR, { recursive: true });
        const res = await runOnce(s.role, c, fetched, profileTo);
        results.set(key, [...(results.get(key) ?? []), res]);
        log(`#${r} ${key}: ${res.cpuUsPerEvent.toFixed(2)} µs CPU/event, ${int(res.eventsPerS)} events/s, ${res.flushes} flushes, ${res.alerts} alerts`);
        if (profileTo) {
          const sum = summarise(profileTo);
          const busy = sum.totalMs - sum.idleMs;
          console.log(`\nCPU profile (${profileTo}), ${(busy / 1000).toFixed(2)} s busy; self time by area:`);
          for (const x of sum.byArea.slice(0, 14)) console.log(`  ${((x.ms / busy) * 100).toFixed(1).padStart(5)}%  ${x.area}`);
          console.log('functions:');
          for (const x of sum.byFunction.slice(0, 25)) console.log(`  ${((x.ms / busy) * 100).toFixed(1).padStart(5)}%  ${x.fn}  ${x.where}`);
        }
      }
    }
  }
  console.log('\n=== bench:analytics-role ===');
  // The least CPU of the repetitions beside the median: on a shared machine, other processes only ever add to it.
  const rows = [...results].map(([key, rs]) => [key, median(rs.map((x) => x.cpuUsPerEvent)).toFixed(2), Math.min(...rs.map((x) => x.cpuUsPerEvent)).toFixed(2), int(median(rs.map((x) => x.eventsPerS))), rs.map((x) => x.cpuUsPerEvent.toFixed(2)).join(' / ')]);
  console.log(table(['variant', 'µs CPU/event (median)', 'least', 'events/s', 'each repetition'], rows));
});
