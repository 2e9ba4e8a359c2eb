/**
 * bench:gateway-work — the gateway's own work on a request, in this process, without HTTP or
 * Kafka: JSON.parse of the body, then ingest (validation, dedup, enrichment, serialisation of 20
 * events) with a producer that acknowledges at once. CPU microseconds per request (this process's
 * CPU time, so a busy machine slows it less than wall time), median of 5 rounds after a warm-up.
 * For A/B comparisons of the same code path in the same minute; bench:gateway's stubbed target is
 * the figure with HTTP around it. Also prints the GC pauses of the measured rounds; this loop never
 * yields to the timers, so its pauses are longer than a server's: compare them A/B only.
 *
 *   npm run bench:gateway-work -- [--requests 20000]
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadConfig } from '../common/config.js';
import { toBatch } from '../gateway/batch.js';
import { deadLetters } from '../gateway/dead-letter.js';
import { RecentIds } from '../gateway/dedup.js';
import { Delivery } from '../gateway/delivery.js';
import { geoipLiteProvider } from '../gateway/geo.js';
import { createIngest } from '../gateway/ingest.js';
import { gatewayMetrics } from '../gateway/metrics.js';
import { cachedUserAgentParser } from '../gateway/user-agent.js';
import { createValidator } from '../gateway/validate.js';
import { bodyPool } from './lib/bodies.js';
import { parseArgs } from './lib/args.js';

const cfg = loadConfig();
const log = pino({ level: 'warn' });
const metrics = gatewayMetrics();
const producer = { send: async () => {}, isAvailable: () => true, close: async () => {} };
const delivery = new Delivery(producer, { timeoutMs: 10000, maxInFlight: 1e9, retryAfterS: 1 }, metrics);
const recent = new RecentIds(cfg.gatewayDedupMax, cfg.gatewayDedupWindowS * 1000);
const ingest = createIngest({
  topicPrefix: '',
  validate: createValidator(),
  parseUa: cachedUserAgentParser(),
  geo: geoipLiteProvider(),
  botPolicy: 'flag',
  recent,
  delivery,
  deadLetters: deadLetters('', 65536),
  metrics,
  waitMs: 10000,
  timeWindow: { maxAgeMs: 30 * 86_400_000, maxFutureMs: 600_000 },
});
const pool = bodyPool({ size: 2000, eventsPerBody: 20, seed: 42 });
const N = parseArgs().num('requests', 20_000);
async function round(n: number) {
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
}
// GC pauses of the measured rounds (a pause holds every request in the process: the tail at half load).
const pauses: number[] = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) pauses.push(e.duration);
});
await round(5000);
gcObserver.observe({ entryTypes: ['gc'] });
const xs: number[] = [];
for (let k = 0; k < 5; k++) {
  xs.push(await round(N / 5));
  // GC entries reach the observer on a later turn of the loop.
  await new Promise((r) => setTimeout(r, 1));
}
xs.sort((a, b) => a - b);
for (const e of gcObserver.takeRecords()) pauses.push(e.duration);
gcObserver.disconnect();
pauses.sort((a, b) => a - b);
const heap = process.memoryUsage();
console.log(`GC pauses over the measured rounds: ${pauses.length}, total ${pauses.reduce((a, b) => a + b, 0).toFixed(0)} ms, p99 ${(pauses[Math.floor(pauses.length * 0.99)] ?? 0).toFixed(1)} ms, max ${(pauses[pauses.length - 1] ?? 0).toFixed(1)} ms, over 10 ms ${pauses.filter((p) => p > 10).length}; heap used ${(heap.heapUsed / 1e6).toFixed(0)} MB, dedup holds ${recent.size} ids`);
console.log(`gateway own work (JSON.parse + ingest of 20 events): median ${(xs[2] * 1000).toFixed(1)} µs CPU per request; rounds ${xs.map((x) => (x * 1000).toFixed(1)).join(' ')}`);
