/**
 * bench:gateway-half — only the half-load phase of bench:gateway, repeated: the real gateway
 * (Kafka on this machine, acks=all) at a fixed paced rate, several runs in a row, each with where
 * its slow requests waited (lib/half-tail.ts: generator lateness, stalls, Kafka acknowledgements,
 * the gateway's time, loop turns, GC pauses). For chasing the p99 at half load without the minutes
 * of maximum-load and overload runs around it. The rate is `--rate`, or half of the maximum a short
 * closed-loop run measures first. Kafka on its own ports (29392/29393), data in
 * .data/bench/gateway-half, stopped at the end, also on failure.
 *
 *   npm run bench:gateway-half -- [--rate 1400] [--reps 5] [--duration 10] [--max-duration 5]
 *                                 [--warmup 3] [--linger 0] [--connections 64]
 */
import { startKafka } from '../infra/services.js';
import { resolveDataDir } from '../infra/paths.js';
import { assertPortsFree } from '../infra/ports.js';
import { parseArgs } from './lib/args.js';
import { bodyPool } from './lib/bodies.js';
import { gatewayProcesses } from './lib/gateway-processes.js';
import { scrape, tailWhy } from './lib/half-tail.js';
import { kafkaRecords } from './lib/kafka-records.js';
import { measure } from './lib/measure.js';
import { log, onCleanup, runBench } from './lib/run.js';
import { int, loadAverage, median, ms } from './lib/stats.js';

const a = parseArgs();
const RATE = a.num('rate', 0);
const REPS = a.num('reps', 5);
const DURATION = a.num('duration', 10);
const MAX_DURATION = a.num('max-duration', 5);
const WARMUP = a.num('warmup', 3);
const CONNECTIONS = a.num('connections', 64);
/** GATEWAY_KAFKA_LINGER_MS of the gateway measured (its default when not given). */
const LINGER = a.str('linger', '');
const KAFKA_PORT = a.num('kafka-port', 29392);
const CONTROLLER_PORT = a.num('controller-port', 29393);
const GATEWAY_PORT = a.num('gateway-port', 28180);
const DATA_DIR = resolveDataDir(a.str('data-dir', '.data/bench/gateway-half'));

await runBench('bench:gateway-half', 900, async () => {
  await assertPortsFree([{ port: GATEWAY_PORT, what: 'gateway', setting: '--gateway-port' }]);
  log(`gateway half-load bench; loadavg ${await loadAverage()}`);
  const pool = bodyPool({ size: 2000, eventsPerBody: 20, seed: 42 });
  const kafka = await startKafka({ dataDir: DATA_DIR, fresh: true, port: KAFKA_PORT, controllerPort: CONTROLLER_PORT, log: (m) => log(`[infra] ${m}`) });
  onCleanup('kafka', () => kafka.stop());
  const procs = gatewayProcesses({ dataDir: DATA_DIR, kafkaPort: KAFKA_PORT, kafkaClient: kafka.clientConfig });
  const gw = await procs.gateway('gateway', 'platformatic', GATEWAY_PORT, [], LINGER === '' ? {} : { gatewayKafkaLingerMs: Number(LINGER) });
  const records0 = await kafkaRecords(kafka);
  let acknowledged = 0;
  const run = async (what: string, duration: number, rate?: number) => {
    const m = await measure(what, gw, kafka.pid, pool, { port: GATEWAY_PORT, duration, connections: CONNECTIONS, rate });
    acknowledged += m.ok * pool.eventsPerBody;
    return m;
  };

  await run('warm-up', WARMUP);
  let rate = RATE;
  if (!rate) {
    const max = await run('maximum', MAX_DURATION);
    rate = Math.max(1, Math.round(max.reqPerS / 2));
    log(`maximum ${int(max.reqPerS)} req/s (closed loop, ${CONNECTIONS} connections, ${MAX_DURATION} s): half is ${int(rate)} req/s`);
  }
  const lines: string[] = [];
  const p99s: number[] = [];
  const p50s: number[] = [];
  for (let i = 1; i <= REPS; i++) {
    const before = await scrape(GATEWAY_PORT);
    const m = await run(`gateway @${int(rate)} req/s #${i}`, DURATION, rate);
    p99s.push(m.p99);
    p50s.push(m.p50);
    const line = `${m.what}: p50 ${ms(m.p50)}, p99 ${ms(m.p99)}, codes ${m.codes}, gateway ${m.cpuMsPerReq.server.toFixed(3)} ms CPU/request, broker ${m.cpuMsPerReq.kafka.toFixed(3)}; load ${m.load}; ${tailWhy(m, before, await scrape(GATEWAY_PORT))}`;
    log(line);
    lines.push(line);
  }
  const records = (await kafkaRecords(kafka)) - records0;
  console.log(`\nhalf load, ${REPS} x ${DURATION} s paced at ${int(rate)} req/s (batches of 20), Kafka on this machine, acks=all${LINGER === '' ? '' : `, GATEWAY_KAFKA_LINGER_MS=${LINGER}`}:`);
  console.log(lines.join('\n'));
  console.log(`p50 median ${ms(median(p50s))}; p99 median ${ms(median(p99s))}, runs ${p99s.map((x) => x.toFixed(1)).join(' / ')} ms (target <= 25 ms)`);
  console.log(`Kafka holds ${int(records)} new records; the gateway acknowledged ${int(acknowledged)} events${records >= acknowledged ? ' (all in Kafka)' : ' (MISSING RECORDS)'}`);
  if (records < acknowledged) throw new Error('Kafka holds fewer records than the gateway acknowledged');
});
