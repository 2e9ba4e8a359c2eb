/**
 * bench:kafka-clients — the gateway's producer drivers (gateway/kafka-driver.ts) alone, with the
 * project's real records: batches from the traffic generator, enriched and serialised by the
 * gateway's own code, keyed by visitor, to the event topics, idempotent, acks=all. Each driver
 * sends groups of `--group` requests of 20 events, one group in flight at a time (what
 * gateway/coalescing-producer.ts does under load), for `--duration` s, `--reps` times in
 * alternation; reported: records/s, CPU µs per record in this process (the client's cost) and
 * in the broker. Kafka on its own ports with its data in .data/bench/kafka-clients, stopped at
 * the end; or an existing broker with --brokers HOST:PORT (topics must exist, --topic-prefix;
 * TLS and SASL from KAFKA_SSL / KAFKA_SSL_CA_FILE / KAFKA_SASL_*). --secure: the own broker with
 * TLS and SASL/SCRAM only (lib/secure.ts), both drivers logging in over TLS.
 *
 *   npm run bench:kafka-clients -- [--reps 3] [--duration 8] [--group 64 | --groups 4,16,64] [--compressions lz4,snappy,zstd] [--secure | --brokers ...]
 *                                   [--baseline ../base] [--no-kafkajs] [--ab-kafka-props=num.io.threads=2,...] [--ab-kafka-jvm=-Xmn64m,...]
 *
 * --baseline DIR: also the platformatic driver of another checkout of the project (its code and its
 * node_modules, patches included), alternated with this one's: a driver change measured A/B.
 * --no-kafkajs: leave kafkajs out.
 * --groups: each group size in turn (requests per send: what a gateway's load and linger make of
 * its produce requests), every client at each size.
 * --ab-kafka-props / --ab-kafka-jvm: a second broker of its own (Kafka's ports + 2) with these
 * broker properties / JVM flags, written to by @platformatic/kafka in the same alternation: a broker
 * setting's CPU per record A/B, measured in the same minutes.
 * --compressions: @platformatic/kafka again with each batch compression, with the bytes per record
 * the broker's log grew by (what compression saves) beside the CPU it costs.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../common/config.js';
import { topicFor } from '../contracts/topics.js';
import type { ClientEvent } from '../contracts/event-schema.js';
import { startKafka } from '../infra/services.js';
import { resolveDataDir } from '../infra/paths.js';
import { enrichEvent, type RequestContext } from '../gateway/enrich.js';
import type { OutRecord } from '../gateway/event-producer.js';
import { kafkaDriver } from '../gateway/kafka-producer.js';
import { geoipLiteProvider } from '../gateway/geo.js';
import { parseUserAgent } from '../gateway/user-agent.js';
import { anonymiseIp } from '../gateway/anonymise-ip.js';
import { parseArgs } from './lib/args.js';
import { benchSecurity, describeSecurity } from './lib/secure.js';
import { bodyPool } from './lib/bodies.js';
import { cpuSecondsOf } from './lib/child.js';
import { log, onCleanup, runBench } from './lib/run.js';
import { int, median, table } from './lib/stats.js';

const a = parseArgs();
const REPS = a.num('reps', 3);
const DURATION = a.num('duration', 8);
const GROUPS = a.str('groups', String(a.num('group', 64))).split(',').filter(Boolean).map(Number);
const kvs = (name: string) => a.str(name, '').split(',').filter(Boolean);
const AB_KAFKA_PROPS = Object.fromEntries(kvs('ab-kafka-props').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const AB_KAFKA_JVM = kvs('ab-kafka-jvm');
const AB_BROKER = Object.keys(AB_KAFKA_PROPS).length > 0 || AB_KAFKA_JVM.length > 0;
const BROKERS = a.str('brokers', '');
const PREFIX = a.str('topic-prefix', '');
const SECURE = a.flag('secure');
if (SECURE && BROKERS) throw new Error('--secure starts a broker of its own; for --brokers, set KAFKA_SSL / KAFKA_SASL_* instead');
/** --compressions lz4,snappy: @platformatic/kafka again with each of these batch compressions (GATEWAY_KAFKA_COMPRESSION); '' skips them. */
const COMPRESSIONS = a.str('compressions', 'lz4,snappy,zstd').split(',').filter(Boolean);
const BASELINE = a.str('baseline', '') ? path.resolve(a.str('baseline', '')) : '';
const AB_NAME = `platformatic @ broker ${[...kvs('ab-kafka-props'), ...AB_KAFKA_JVM].join(' ')}`;
const CLIENTS = ['platformatic', ...(a.flag('no-kafkajs') ? [] : ['kafkajs']), ...COMPRESSIONS.map((c) => `platformatic+${c}`), ...(BASELINE ? ['platformatic baseline'] : []), ...(AB_BROKER ? [AB_NAME] : [])];
type Client = string;

/** Bytes of the broker's log segments under `dir` (what the records take on disk, batch headers included). */
function logBytes(dir: string | undefined): number {
  if (!dir) return NaN;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile() && e.name.endsWith('.log')) n += statSync(path.join(e.parentPath, e.name)).size;
  return n;
}

/** The records of `n` requests, as the gateway would produce them. */
function records(n: number): OutRecord[][] {
  const pool = bodyPool({ size: Math.min(n, 2000), eventsPerBody: 20, seed: 7 });
  const geo = geoipLiteProvider();
  const out: OutRecord[][] = [];
  for (let k = 0; k < n; k++) {
    const { events, sentAt, ua, ip } = pool.events(k);
    const ctx: RequestContext = { ua: parseUserAgent(ua), geo: geo.lookup(ip), ip: anonymiseIp(ip), siteId: 'bench', receivedAt: Date.now(), sentAt };
    out.push(events.map((ev: ClientEvent) => ({ topic: topicFor(ev.type, PREFIX), key: ev.visitor_id, value: JSON.stringify(enrichEvent(ev, ctx)) })));
  }
  return out;
}

await runBench('bench:kafka-clients', 900, async () => {
  let brokers = BROKERS ? BROKERS.split(',') : [];
  /** The broker each client writes to: its pid (CPU) and data folder (bytes on disk); none against --brokers. */
  let brokerOf: Record<'a' | 'b', { pid?: number; dir?: string; brokers: string[] }> = { a: { brokers }, b: { brokers } };
  let secured = {};
  if (!brokers.length) {
    const start = async (name: string, dir: string, port: number, tuning?: { props: Record<string, string>; jvmFlags: string[] }) => {
      const kafka = await startKafka({ dataDir: resolveDataDir(dir), fresh: true, port, controllerPort: port + 1, security: benchSecurity(SECURE), tuning, log: (m) => log(`[infra ${name}] ${m}`) });
      onCleanup(`kafka ${name}`, () => kafka.stop());
      return { kafka, side: { pid: kafka.pid, dir: resolveDataDir(dir), brokers: kafka.brokers } };
    };
    const port = a.num('kafka-port', 29194);
    const A = await start('a', '.data/bench/kafka-clients', port);
    const B = AB_BROKER ? await start('b', '.data/bench/kafka-clients-b', port + 2, { props: AB_KAFKA_PROPS, jvmFlags: AB_KAFKA_JVM }) : A;
    brokers = A.kafka.brokers;
    brokerOf = { a: A.side, b: B.side };
    secured = A.kafka.clientConfig;
  }
  const requests = records(4000);
  const perRequest = requests[0].length;
  log(`${requests.length} requests of ${perRequest} enriched records (${int(requests.reduce((s, r) => s + r.reduce((t, x) => t + x.value.length, 0), 0) / requests.length / perRequest)} B each on average), groups of ${GROUPS.join(', ')} requests`);
  const cfg = loadConfig({ ...secured, kafkaBrokers: brokers, topicPrefix: PREFIX });
  log(describeSecurity(cfg));
  const logger = pino({ level: 'warn' });
  const sideOf = (c: Client) => (c === AB_NAME ? brokerOf.b : brokerOf.a);
  const sessions = Object.fromEntries(
    await Promise.all(
      CLIENTS.map(async (c) => {
        const [client, compression = 'none'] = c === AB_NAME ? ['platformatic'] : c.split('+');
        const driverOf: typeof kafkaDriver = c === 'platformatic baseline' ? ((await import(path.join(BASELINE, 'gateway/kafka-producer.ts'))) as { kafkaDriver: typeof kafkaDriver }).kafkaDriver : kafkaDriver;
        const s = driverOf({ ...cfg, kafkaBrokers: sideOf(c).brokers, gatewayKafkaCompression: compression }, logger, c === 'platformatic baseline' ? 'platformatic' : client).create();
        await s.connect();
        onCleanup(c, () => s.close());
        return [c, s] as const;
      }),
    ),
  );

  interface Run {
    client: string;
    group: number;
    recordsPerS: number;
    cpuUsPerRecord: number;
    brokerUsPerRecord: number;
    /** Bytes the broker's log grew by per record (NaN against --brokers). */
    diskBytesPerRecord: number;
    msPerGroup: number;
  }
  const runs: Run[] = [];
  let k = 0;
  const one = async (client: Client, group: number, seconds: number): Promise<Run> => {
    const s = sessions[client];
    const side = sideOf(client);
    const bytes = () => logBytes(side.dir);
    const bytes0 = bytes();
    const cpu0 = process.cpuUsage();
    const broker0 = cpuSecondsOf(side.pid);
    const t0 = performance.now();
    let sent = 0;
    let groups = 0;
    while (performance.now() - t0 < seconds * 1000) {
      const records: OutRecord[] = [];
      for (let i = 0; i < group; i++) records.push(...requests[k++ % requests.length]);
      await s.send(records);
      sent += records.length;
      groups++;
    }
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return {
      client,
      group,
      recordsPerS: sent / wall,
      cpuUsPerRecord: (cpu.user + cpu.system) / sent,
      brokerUsPerRecord: ((cpuSecondsOf(side.pid) - broker0) * 1e6) / sent,
      diskBytesPerRecord: (bytes() - bytes0) / sent,
      msPerGroup: (wall * 1000) / groups,
    };
  };
  for (const c of CLIENTS) await one(c, GROUPS[0], 2); // warm-up
  // What the broker burns with nothing to do (controller, heartbeats, GC, timers): at low rates it
  // is a large part of its CPU per record, and no client or produce setting changes it.
  const idle0 = cpuSecondsOf(brokerOf.a.pid);
  await new Promise((r) => setTimeout(r, 3000));
  const brokerIdleCores = (cpuSecondsOf(brokerOf.a.pid) - idle0) / 3;
  log(`broker idle: ${brokerIdleCores.toFixed(3)} cores`);
  for (const group of GROUPS) {
    for (let r = 1; r <= REPS; r++) {
      for (const c of r % 2 ? CLIENTS : [...CLIENTS].reverse()) {
        const m = await one(c, group, DURATION);
        runs.push(m);
        log(`${c}, groups of ${group} #${r}: ${int(m.recordsPerS)} records/s, ${m.cpuUsPerRecord.toFixed(2)} µs CPU per record here, ${Number.isFinite(m.brokerUsPerRecord) ? m.brokerUsPerRecord.toFixed(2) : '-'} in the broker, ${m.msPerGroup.toFixed(1)} ms per group, ${int(m.diskBytesPerRecord)} B per record on disk`);
      }
    }
  }
  console.log('\n=== bench:kafka-clients ===');
  console.log(`${REPS} runs of ${DURATION} s per client and group size, groups of ${GROUPS.join(' / ')} x ${perRequest} records, one group in flight, idempotent, acks=all, ${describeSecurity(cfg)} (medians)`);
  const rows = GROUPS.flatMap((g) =>
    CLIENTS.map((c) => {
      const xs = runs.filter((m) => m.client === c && m.group === g);
      return [c, String(g), int(median(xs.map((m) => m.recordsPerS))), median(xs.map((m) => m.cpuUsPerRecord)).toFixed(2), Number.isFinite(xs[0].brokerUsPerRecord) ? median(xs.map((m) => m.brokerUsPerRecord)).toFixed(2) : '-', median(xs.map((m) => m.msPerGroup)).toFixed(1), int(median(xs.map((m) => m.diskBytesPerRecord)))];
    }),
  );
  console.log(table(['client', 'group', 'records/s', 'client CPU µs/record', 'broker CPU µs/record', 'ms per group', 'B/record on disk'], rows));
  if (Number.isFinite(brokerIdleCores)) console.log(`broker idle (no sends, 3 s): ${brokerIdleCores.toFixed(3)} cores, ${int((brokerIdleCores * 1e6) / 10_000)} µs per record at 10,000 records/s`);
  for (const g of GROUPS) {
    const cpuOf = (c: string) => median(runs.filter((m) => m.client === c && m.group === g).map((m) => m.cpuUsPerRecord));
    const brokerOfClient = (c: string) => median(runs.filter((m) => m.client === c && m.group === g).map((m) => m.brokerUsPerRecord));
    if (CLIENTS.includes('kafkajs')) console.log(`\ngroups of ${g}: CPU per record, kafkajs / platformatic: ${(cpuOf('kafkajs') / cpuOf('platformatic')).toFixed(2)}x`);
    if (BASELINE) console.log(`groups of ${g}: CPU per record, platformatic: baseline ${cpuOf('platformatic baseline').toFixed(2)} µs -> this checkout ${cpuOf('platformatic').toFixed(2)} µs (${(cpuOf('platformatic') / cpuOf('platformatic baseline')).toFixed(2)}x)`);
    if (AB_BROKER) console.log(`groups of ${g}: broker CPU per record, default ${brokerOfClient('platformatic').toFixed(2)} µs -> ${AB_NAME} ${brokerOfClient(AB_NAME).toFixed(2)} µs (${(brokerOfClient(AB_NAME) / brokerOfClient('platformatic')).toFixed(2)}x)`);
  }
});
