/**
 * bench:gateway-work — the gateway's own work on a request, in this process, without HTTP or
 * Kafka: JSON.parse of the body, then ingest (validation, dedup, enrichment, serialisation of 20
 * events) with a producer that acknowledges at once. CPU microseconds per request (this process's
 * CPU time, so a busy machine slows it less than wall time), median of 5 rounds after a warm-up.
 * For A/B comparisons of the same code path in the same minute; bench:gateway's stubbed target is
 * the figure with HTTP around it. Runs with a gateway process's V8 flags (GATEWAY_V8_PRETENURING,
 * GATEWAY_MIN_YOUNG_MB ...: it starts itself again with them). Also prints the GC pauses of the measured rounds; this loop never
 * yields to the timers, so its pauses are longer than a server's: compare them A/B only.
 *
 * --ab-root DIR: the same loop on another checkout's gateway modules (e.g. main in a git worktree),
 * loaded into this process beside this checkout's, the two alternating round by round (`--rounds`
 * of each), each with its own bodies and dedup table: a shared machine's slow minutes hit both, and
 * the per-round ratios and their median say what changed.
 *
 * --encode: the stub producer also encodes each send's records into a record batch with the Kafka
 * client's own encoder (as gateway/platformatic-driver.ts hands them over: string values, Buffer
 * keys), so the figure counts what the value's shape costs the client (a rope is flattened there).
 *
 *   npm run bench:gateway-work -- [--requests 20000] [--ab-root DIR] [--rounds 10] [--encode]
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { bodyPool } from './lib/bodies.js';
import { parseArgs } from './lib/args.js';
import { PROJECT_ROOT } from '../infra/paths.js';
import { loadConfig as configHere } from '../common/config.js';
import { workerHeapFlags, workerSettings } from '../gateway/workers.js';

// A gateway process runs with the V8 flags of gateway/workers.ts; without them this loop measured V8's
// allocation-site pretenuring instead (245-266 µs of CPU per request against 91-98 with them, 4 Dec 2026).
const heapFlags = workerHeapFlags(workerSettings(configHere()));
if (!heapFlags.every((f) => process.execArgv.includes(f))) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...heapFlags, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const a = parseArgs();
const N = a.num('requests', 20_000);
const AB_ROOT = a.str('ab-root', '');
const ENCODE = a.flag('encode');
const ROUNDS = a.num('rounds', AB_ROOT ? 10 : 5);
const log = pino({ level: 'warn' });

/** One checkout's ingest loop: `round(n)` runs n requests and returns CPU ms per request. */
async function workOf(root: string) {
  const load = (file: string) => import(pathToFileURL(path.join(root, file)).href);
  const [{ loadConfig }, { toBatch }, { deadLetters }, { RecentIds }, { Delivery }, { geoipLiteProvider, cachedGeo }, { createIngest }, { gatewayMetrics }, { cachedUserAgentParser }, { createValidator }] = await Promise.all([
    load('common/config.ts'),
    load('gateway/batch.ts'),
    load('gateway/dead-letter.ts'),
    load('gateway/dedup.ts'),
    load('gateway/delivery.ts'),
    load('gateway/geo.ts'),
    load('gateway/ingest.ts'),
    load('gateway/metrics.ts'),
    load('gateway/user-agent.ts'),
    load('gateway/validate.ts'),
  ]);
  const cfg = loadConfig();
  const metrics = gatewayMetrics();
  const encode = ENCODE ? await encoder() : null;
  const producer = { send: async (records: { topic: string; key: string; value: string }[]) => encode?.(records), isAvailable: () => true, close: async () => {} };
  const delivery = new Delivery(producer, { timeoutMs: 10000, maxInFlight: 1e9, retryAfterS: 1 }, metrics);
  const recent = new RecentIds(cfg.gatewayDedupMax, cfg.gatewayDedupWindowS * 1000);
  const ingest = createIngest({
    topicPrefix: '',
    validate: createValidator(),
    parseUa: cachedUserAgentParser(),
    // As the app builds it (a checkout from before the cache: the provider alone).
    geo: cachedGeo ? cachedGeo(geoipLiteProvider()) : geoipLiteProvider(),
    botPolicy: 'flag',
    recent,
    delivery,
    deadLetters: deadLetters('', 65536),
    metrics,
    waitMs: 10000,
    timeWindow: { maxAgeMs: 30 * 86_400_000, maxFutureMs: 600_000 },
  });
  // Its own tag: the two checkouts' dedup tables never see each other's ids anyway, but the bodies stay distinct.
  const pool = bodyPool({ size: 2000, eventsPerBody: 20, seed: 42, tag: `${Date.now().toString(36)}${root.length}` });
  return {
    recent,
    async round(n: number): Promise<number> {
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) {
        const b = pool.next();
        const text = b.body;
        const batch = toBatch(JSON.parse(text), 100);
        const r = await ingest({ events: batch.events, sentAt: batch.sentAt, site: null, ip: b.ip, userAgent: b.ua, receivedAt: Date.now(), log: log as never, bodyText: text });
        if (r.body.accepted !== 20) throw new Error(JSON.stringify(r.body));
      }
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / 1000 / n;
    },
  };
}

/** The client's record-batch encoder over one send's records (one batch: the cost per record is what matters here). */
async function encoder() {
  const { createRecordsBatch } = await import('@platformatic/kafka');
  return (records: { topic: string; key: string; value: string }[]) => {
    const messages = records.map((r) => ({ topic: r.topic, partition: 0, key: Buffer.from(r.key), value: r.value, timestamp: 0n }));
    createRecordsBatch(messages as never);
  };
}

const us = (ms: number) => (ms * 1000).toFixed(1);
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

const self = await workOf(PROJECT_ROOT);
const other = AB_ROOT ? await workOf(path.resolve(AB_ROOT)) : null;
await self.round(5000);
await other?.round(5000);

// GC pauses of the measured rounds (a pause holds every request in the process: the tail at half load).
const pauses: number[] = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) pauses.push(e.duration);
});
gcObserver.observe({ entryTypes: ['gc'] });
const xs: number[] = [];
const ys: number[] = [];
for (let k = 0; k < ROUNDS; k++) {
  // Alternating which goes first: neither always runs right after the other's garbage.
  if (other && k % 2 === 1) ys.push(await other.round(N / ROUNDS));
  xs.push(await self.round(N / ROUNDS));
  if (other && k % 2 === 0) ys.push(await other.round(N / ROUNDS));
  // GC entries reach the observer on a later turn of the loop.
  await new Promise((r) => setTimeout(r, 1));
}
for (const e of gcObserver.takeRecords()) pauses.push(e.duration);
gcObserver.disconnect();
pauses.sort((x, y) => x - y);
const heap = process.memoryUsage();
console.log(`GC pauses over the measured rounds${other ? ' (both checkouts)' : ''}: ${pauses.length}, total ${pauses.reduce((s, p) => s + p, 0).toFixed(0)} ms, p99 ${(pauses[Math.floor(pauses.length * 0.99)] ?? 0).toFixed(1)} ms, max ${(pauses[pauses.length - 1] ?? 0).toFixed(1)} ms, over 10 ms ${pauses.filter((p) => p > 10).length}; heap used ${(heap.heapUsed / 1e6).toFixed(0)} MB, dedup holds ${self.recent.size} ids`);
console.log(`gateway own work (JSON.parse + ingest of 20 events): median ${us(median(xs))} µs CPU per request; rounds ${xs.map(us).join(' ')}`);
if (other) {
  const ratios = xs.map((x, i) => x / ys[i]);
  console.log(`--ab-root ${AB_ROOT}: median ${us(median(ys))} µs CPU per request; rounds ${ys.map(us).join(' ')}`);
  console.log(`this checkout / --ab-root, per round: median ${median(ratios).toFixed(3)} (rounds ${ratios.map((r) => r.toFixed(2)).join(' ')})`);
}
