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
 *   npm run bench:kafka-clients -- [--reps 3] [--duration 8] [--group 64] [--compressions lz4,snappy,zstd] [--secure | --brokers ...]
 *                                   [--baseline ../base] [--no-kafkajs]
 *
 * --baseline DIR: also the platformatic driver of another checkout of the project (its code and its
 * node_modules, patches included), alternated with this one's: a driver change measured A/B.
 * --no-kafkajs: leave kafkajs out.
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
const GROUP = a.num('group', 64);
const BROKERS = a.str('brokers', '');
const PREFIX = a.str('topic-prefix', '');
const SECURE = a.flag('secure');
if (SECURE && BROKERS) throw new Error('--secure starts a broker of its own; for --brokers, set KAFKA_SSL / KAFKA_SASL_* instead');
/** --compressions lz4,snappy: @platformatic/kafka again with each of these batch compressions (GATEWAY_KAFKA_COMPRESSION); '' skips them. */
const COMPRESSIONS = a.str('compressions', 'lz4,snappy,zstd').split(',').filter(Boolean);
const BASELINE = a.str('baseline', '') ? path.resolve(a.str('baseline', '')) : '';
const CLIENTS = ['platformatic', ...(a.flag('no-kafkajs') ? [] : ['kafkajs']), ...COMPRESSIONS.map((c) => `platformatic+${c}`), ...(BASELINE ? ['platformatic baseline'] : [])];
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
  let kafkaPid: number | undefined;
  let kafkaDir: string | undefined;
  let secured = {};
  if (!brokers.length) {
    const kafka = await startKafka({ dataDir: resolveDataDir('.data/bench/kafka-clients'), fresh: true, port: a.num('kafka-port', 29194), controllerPort: a.num('controller-port', 29195), security: benchSecurity(SECURE), log: (m) => log(`[infra] ${m}`) });
    onCleanup('kafka', () => kafka.stop());
    brokers = kafka.brokers;
    kafkaPid = kafka.pid;
    kafkaDir = resolveDataDir('.data/bench/kafka-clients');
    secured = kafka.clientConfig;
  }
  const requests = records(4000);
  const perRequest = requests[0].length;
  log(`${requests.length} requests of ${perRequest} enriched records (${int(requests.reduce((s, r) => s + r.reduce((t, x) => t + x.value.length, 0), 0) / requests.length / perRequest)} B each on average), groups of ${GROUP} requests`);
  const cfg = loadConfig({ ...secured, kafkaBrokers: brokers, topicPrefix: PREFIX });
  log(describeSecurity(cfg));
  const logger = pino({ level: 'warn' });
  const sessions = Object.fromEntries(
    await Promise.all(
      CLIENTS.map(async (c) => {
        const [client, compression = 'none'] = c.split('+');
        const driverOf: typeof kafkaDriver = c === 'platformatic baseline' ? ((await import(path.join(BASELINE, 'gateway/kafka-producer.ts'))) as { kafkaDriver: typeof kafkaDriver }).kafkaDriver : kafkaDriver;
        const s = driverOf({ ...cfg, gatewayKafkaCompression: compression }, logger, c === 'platformatic baseline' ? 'platformatic' : client).create();
        await s.connect();
        onCleanup(c, () => s.close());
        return [c, s] as const;
      }),
    ),
  );

  interface Run {
    client: string;
    recordsPerS: number;
    cpuUsPerRecord: number;
    brokerUsPerRecord: number;
    /** Bytes the broker's log grew by per record (NaN against --brokers). */
    diskBytesPerRecord: number;
    msPerGroup: number;
  }
  const runs: Run[] = [];
  let k = 0;
  const one = async (client: Client, seconds: number): Promise<Run> => {
    const s = sessions[client];
    const bytes0 = logBytes(kafkaDir);
    const cpu0 = process.cpuUsage();
    const broker0 = cpuSecondsOf(kafkaPid);
    const t0 = performance.now();
    let sent = 0;
    let groups = 0;
    while (performance.now() - t0 < seconds * 1000) {
      const group: OutRecord[] = [];
      for (let i = 0; i < GROUP; i++) group.push(...requests[k++ % requests.length]);
      await s.send(group);
      sent += group.length;
      groups++;
    }
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return {
      client,
      recordsPerS: sent / wall,
      cpuUsPerRecord: ((cpu.user + cpu.system) / sent),
      brokerUsPerRecord: ((cpuSecondsOf(kafkaPid) - broker0) * 1e6) / sent,
      diskBytesPerRecord: (logBytes(kafkaDir) - bytes0) / sent,
      msPerGroup: (wall * 1000) / groups,
    };
  };
  for (const c of CLIENTS) await one(c, 2); // warm-up
  for (let r = 1; r <= REPS; r++) {
    for (const c of r % 2 ? CLIENTS : [...CLIENTS].reverse()) {
      const m = await one(c, DURATION);
      runs.push(m);
      log(`${c} #${r}: ${int(m.recordsPerS)} records/s, ${m.cpuUsPerRecord.toFixed(2)} µs CPU per record here, ${Number.isFinite(m.brokerUsPerRecord) ? m.brokerUsPerRecord.toFixed(2) : '-'} in the broker, ${m.msPerGroup.toFixed(1)} ms per group, ${int(m.diskBytesPerRecord)} B per record on disk`);
    }
  }
  console.log('\n=== bench:kafka-clients ===');
  console.log(`${REPS} runs of ${DURATION} s per client, groups of ${GROUP} x ${perRequest} records, one group in flight, idempotent, acks=all, ${describeSecurity(cfg)} (medians)`);
  const rows = CLIENTS.map((c) => {
    const xs = runs.filter((m) => m.client === c);
    return [c, int(median(xs.map((m) => m.recordsPerS))), median(xs.map((m) => m.cpuUsPerRecord)).toFixed(2), Number.isFinite(xs[0].brokerUsPerRecord) ? median(xs.map((m) => m.brokerUsPerRecord)).toFixed(2) : '-', median(xs.map((m) => m.msPerGroup)).toFixed(1), int(median(xs.map((m) => m.diskBytesPerRecord)))];
  });
  console.log(table(['client', 'records/s', 'client CPU µs/record', 'broker CPU µs/record', 'ms per group', 'B/record on disk'], rows));
  const cpuOf = (c: string) => median(runs.filter((m) => m.client === c).map((m) => m.cpuUsPerRecord));
  if (CLIENTS.includes('kafkajs')) console.log(`\nCPU per record, kafkajs / platformatic: ${(cpuOf('kafkajs') / cpuOf('platformatic')).toFixed(2)}x`);
  if (BASELINE) console.log(`CPU per record, platformatic: baseline ${cpuOf('platformatic baseline').toFixed(2)} µs -> this checkout ${cpuOf('platformatic').toFixed(2)} µs (${(cpuOf('platformatic') / cpuOf('platformatic baseline')).toFixed(2)}x)`);
});
