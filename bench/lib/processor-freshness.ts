/**
 * bench:processor's freshness phase: the gateway and the processor (one process per role, as a
 * scaled deployment runs them) live, paced traffic at `rate` events/s through the gateway, and
 * probe events (each with a site of its own) whose first appearance in a KPI window document is
 * watched for: freshness = request sent -> document visible to a search. Also each role's CPU per
 * event and memory while it keeps up.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { configToEnv } from '../../contracts/config.js';
import { indexNames } from '../../contracts/indices.js';
import { installTemplates } from '../../infra/setup-indices.js';
import type { KpiTrace } from '../../processor/sinks/kpi-trace.js';
import { USER_AGENTS } from '../../scripts/traffic-generator.js';
import { sleep } from '../../common/wait.js';
import { bodyPool } from './bodies.js';
import { httpOk, NodeChild } from './child.js';
import { metricValue, ROLES, rssSampler, spawnProcessor, type BenchRole, type ProcessorServices } from './processor-child.js';
import { pacedLoad } from './paced.js';
import { log, onCleanup } from './run.js';
import { clientEnv } from './secure.js';
import { int, loadAverage, ms, percentile, secs } from './stats.js';

export interface Segment {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  n: number;
  missing: number;
  rate: number;
  load: string;
  non2xx: number;
  /** Records the analytics role had not read yet when the segment's probes were last watched. */
  lag: number;
  /** Where the time goes, per probe (medians and p95s of each hop). */
  hops: Hops;
  /** The analytics role's flushes during the segment: how many per second and their mean length. */
  flushesPerS: number;
  flushMeanMs: number;
}

/**
 * A probe's way, hop by hop (`HOPS`): request sent -> gateway answered 200 (Kafka acknowledged it)
 * -> its batch handed over by the analytics role's Kafka client -> counted by the engine -> put in a
 * KPI bulk -> that bulk sent -> acknowledged by Elasticsearch -> its document visible to a search.
 * The processor's times come from its KPI trace (KPI_TRACE_SITE_PREFIX, processor/sinks/kpi-trace.ts).
 */
export const HOPS = [
  { key: 'gateway', label: 'gateway (sent -> acked)' },
  { key: 'fetch', label: 'Kafka fetch (acked -> handed over)' },
  { key: 'lock', label: 'role queue (handed over -> counted)' },
  { key: 'emit', label: 'emit wait (counted -> in a KPI bulk)' },
  { key: 'queue', label: 'KPI bulk queue (-> sent)' },
  { key: 'bulk', label: 'ES bulk (sent -> acked)' },
  { key: 'refresh', label: 'refresh + poll (ES acked -> visible)' },
] as const;
export type HopKey = (typeof HOPS)[number]['key'];
/** Per hop: the probes' times in it (ms). */
export type Hops = Record<HopKey, number[]>;

/** The probes are the events of sites starting with this: the analytics role traces them. */
const PROBE_PREFIX = 'probe-';

/** Per probe site: the analytics role's trace of it, in this process's performance.now() time. */
function readTraces(logFile: string, tag: string): Map<string, { fetched: number; consumed: number; emitted: number; sent: number; acked: number }> {
  const out = new Map<string, { fetched: number; consumed: number; emitted: number; sent: number; acked: number }>();
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return out;
  }
  const origin = performance.timeOrigin;
  for (const line of text.split('\n')) {
    if (!line.includes('"kpiTrace"') || !line.includes(tag)) continue;
    const t = (JSON.parse(line) as { kpiTrace: KpiTrace }).kpiTrace;
    if (!t.site.startsWith(tag) || out.has(t.site)) continue;
    out.set(t.site, { fetched: (t.fetchedAt ?? NaN) - origin, consumed: t.consumedAt - origin, emitted: (t.emittedAt ?? NaN) - origin, sent: (t.sentAt ?? NaN) - origin, acked: (t.ackedAt ?? NaN) - origin });
  }
  return out;
}

export interface RoleLive {
  role: BenchRole;
  cpuUsPerEvent: number;
  rssPeakMb: number;
  rssMedianMb: number;
}

export interface Freshness {
  segments: Segment[];
  all: number[];
  roles: RoleLive[];
}

export interface FreshnessOptions {
  services: ProcessorServices;
  es: Client;
  rate: number;
  segments: number;
  durationS: number;
  warmupS: number;
  probesPerS: number;
  /** How often the probes' documents are looked for, in ms (well below the 2 s target, so it does not flatter the figure). */
  pollMs: number;
  /** Partitions of the event topics (a probe's document id names its partition: every one is asked for). */
  partitions: number;
  gatewayPort: number;
  /** Metrics port of the first role; the others follow. */
  metricsPort: number;
  dataDir: string;
  runTag: string;
  env: Record<string, string>;
}

/** The analytics role's flush histogram: count and total seconds so far. */
async function flushStats(port: number): Promise<{ count: number; sum: number }> {
  const label = 'role="analytics"';
  const [count, sum] = await Promise.all([metricValue(port, 'processor_flush_seconds_count', label), metricValue(port, 'processor_flush_seconds_sum', label)]).catch(() => [NaN, NaN]);
  return { count, sum };
}

export async function runFreshness(o: FreshnessOptions): Promise<Freshness> {
  const topicPrefix = 'fr-';
  const indexPrefix = 'benchf';
  await installTemplates(o.services.esUrl, indexPrefix, { replicas: 0 });
  const gw = new NodeChild('gateway', 'gateway/server.ts', {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      ...configToEnv({
        gatewayHost: '127.0.0.1',
        gatewayPort: o.gatewayPort,
        kafkaBrokers: o.services.kafkaBrokers,
        topicPrefix,
        logLevel: 'warn',
        gatewayRateLimitIp: 1_000_000_000,
        gatewayRateLimitSite: 1_000_000_000,
        trustedProxies: ['127.0.0.1'],
        sites: '',
        sitesFile: '',
      }),
      ...clientEnv(o.services.kafkaClient),
    },
    logFile: path.join(o.dataDir, 'logs', 'gateway.log'),
  });
  onCleanup('gateway', () => gw.stop());
  const procs = await Promise.all(
    ROLES.map((role, i) =>
      spawnProcessor({
        name: `processor-fresh-${role}`,
        roles: [role],
        services: o.services,
        topicPrefix,
        indexPrefix,
        group: `bench-fresh-${o.runTag}`,
        metricsPort: o.metricsPort + i,
        dataDir: o.dataDir,
        // The analytics role traces the probes' events to their KPI bulk (logged at info).
        env: role === 'analytics' ? { ...configToEnv({ kpiTraceSitePrefix: PROBE_PREFIX, logLevel: 'info' }), ...o.env } : o.env,
      }),
    ),
  );
  const analyticsPort = o.metricsPort + ROLES.indexOf('analytics');
  const analyticsLog = procs[ROLES.indexOf('analytics')].logFile;
  await gw.waitReady(() => httpOk(`http://127.0.0.1:${o.gatewayPort}/readyz`), 60_000);

  const pool = bodyPool({ size: 2000, eventsPerBody: 20, seed: 11, tag: `f${o.runTag}` });
  // Paced, open-loop traffic (evenly spaced requests; lib/paced.ts), like many browsers.
  // The gateway corrects event times by receive time - sent_at: the events land in the last
  // 5 s before now, whatever the pool's fixed client date.
  const traffic = (seconds: number) => pacedLoad({ port: o.gatewayPort, path: '/v1/events?site=shop', rate: o.rate / 20, durationS: seconds, next: () => pool.next() });

  // Warm-up: at least warmupS, then until the analytics role has caught up with the traffic
  // (lag under half a second of it: a fresh group joining and the first indices being created
  // hold it back at first), at most 90 s; a processor slower than the traffic never catches up.
  const warmStart = performance.now();
  let warmLag: number;
  for (;;) {
    await traffic(5);
    warmLag = await metricValue(analyticsPort, 'processor_consumer_lag').catch(() => NaN);
    const elapsed = (performance.now() - warmStart) / 1000;
    if ((elapsed >= o.warmupS && warmLag < o.rate / 2) || elapsed >= 90) break;
  }
  log(`freshness: warmed up for ${secs((performance.now() - warmStart) / 1000, 0)} at ${int(o.rate)} events/s; analytics lag ${int(warmLag)} records`);
  const kpis = indexNames(indexPrefix).kpis;
  const segments: Segment[] = [];
  const all: number[] = [];
  const cpu0 = procs.map((p) => p.cpuSeconds());
  const rss = procs.map((p) => rssSampler(p.pid));
  let accepted = 0;
  for (let s = 1; s <= o.segments; s++) {
    const load = await loadAverage();
    const tag = `${PROBE_PREFIX}${o.runTag}-${s}-`;
    const sent = new Map<string, number>();
    const seen = new Map<string, number>();
    /** Per probe: when the request was sent, when it was answered 200. */
    const startedAt = new Map<string, number>();
    const ackedAt = new Map<string, number>();
    const flush0 = await flushStats(analyticsPort);
    const segStart = performance.now();
    let stop = false;
    let stopAt = Infinity;
    // Probes: one page view each from a browser (bots are kept out of KPIs), for a site of its own, so its KPI document tells when it was counted.
    const probing = (async () => {
      for (let k = 0; !stop; k++) {
        const site = `${tag}${k}`;
        const t = Date.now();
        const body = JSON.stringify({
          sent_at: t,
          events: [{ event_id: `${site}-e`, type: 'page_view', ts: t, visitor_id: `v-${site}`, session_id: `s-${site}`, url: 'https://shop.example/probe' }],
        });
        const started = performance.now();
        startedAt.set(site, started);
        void fetch(`http://127.0.0.1:${o.gatewayPort}/v1/events?site=${site}`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': USER_AGENTS[0], 'x-forwarded-for': '81.2.69.142' }, body })
          .then(async (res) => {
            await res.arrayBuffer();
            if (res.status === 200) {
              sent.set(site, started);
              ackedAt.set(site, performance.now());
            } else startedAt.delete(site);
          })
          .catch(() => startedAt.delete(site));
        await sleep(1000 / o.probesPerS);
      }
    })();
    // Watch Elasticsearch for the probes' KPI documents, as a dashboard would see them (search, not get).
    const watching = (async () => {
      while (!stop || seen.size < sent.size) {
        const res = await o.es
          .search<{ dimension_value: string }>({
            index: kpis,
            size: 10_000,
            ignore_unavailable: true,
            _source: ['dimension_value'],
            query: { bool: { filter: [{ term: { dimension: 'site' } }, { prefix: { dimension_value: tag } }, { prefix: { window_kind: 'tumbling_' } }] } },
          })
          .catch(() => null);
        const now = performance.now();
        for (const h of res?.hits.hits ?? []) {
          const v = h._source?.dimension_value;
          if (v && !seen.has(v)) seen.set(v, now);
        }
        if (stop && now > stopAt + 15_000) break;
        await sleep(o.pollMs);
      }
    })();
    const res = await traffic(o.durationS);
    accepted += res.ok * 20;
    stop = true;
    stopAt = performance.now();
    await probing;
    await watching;
    const flush1 = await flushStats(analyticsPort);
    const segSeconds = (performance.now() - segStart) / 1000;
    const lag = await metricValue(analyticsPort, 'processor_consumer_lag').catch(() => NaN);
    const f: number[] = [];
    for (const [site, t] of sent) {
      const v = seen.get(site);
      if (v !== undefined) f.push(v - t);
    }
    all.push(...f);
    const traces = readTraces(analyticsLog, tag);
    const at = (site: string, key: 'fetched' | 'consumed' | 'emitted' | 'sent' | 'acked') => traces.get(site)?.[key];
    const hop = (from: (site: string) => number | undefined, to: (site: string) => number | undefined) => {
      const d: number[] = [];
      for (const site of sent.keys()) {
        const a = from(site);
        const b = to(site);
        if (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b)) d.push(Math.max(0, b - a));
      }
      return d;
    };
    const hops: Hops = {
      gateway: hop((x) => startedAt.get(x), (x) => ackedAt.get(x)),
      fetch: hop((x) => ackedAt.get(x), (x) => at(x, 'fetched')),
      lock: hop((x) => at(x, 'fetched'), (x) => at(x, 'consumed')),
      emit: hop((x) => at(x, 'consumed'), (x) => at(x, 'emitted')),
      queue: hop((x) => at(x, 'emitted'), (x) => at(x, 'sent')),
      bulk: hop((x) => at(x, 'sent'), (x) => at(x, 'acked')),
      refresh: hop((x) => at(x, 'acked'), (x) => seen.get(x)),
    };
    const flushes = flush1.count - flush0.count;
    const g: Segment = {
      p50: percentile(f, 50),
      p95: percentile(f, 95),
      p99: percentile(f, 99),
      max: f.length ? Math.max(...f) : NaN,
      n: f.length,
      missing: sent.size - f.length,
      rate: (res.ok * 20) / res.seconds,
      load,
      non2xx: res.non2xx + res.errors,
      lag,
      hops,
      flushesPerS: flushes / segSeconds,
      flushMeanMs: flushes > 0 ? ((flush1.sum - flush0.sum) / flushes) * 1000 : NaN,
    };
    segments.push(g);
    // Where each role's memory is (RSS = V8 heap + external/array buffers + code and native): what to cut.
    for (const [i, role] of ROLES.entries()) {
      const port = o.metricsPort + i;
      const mb = async (name: string) => (await metricValue(port, name).catch(() => NaN)) / 1e6;
      log(`freshness #${s}: ${role} RSS ${int((await mb('processor_process_resident_memory_bytes')))} MB, V8 heap used ${int(await mb('processor_nodejs_heap_size_used_bytes'))} of ${int(await mb('processor_nodejs_heap_size_total_bytes'))} MB, external ${int(await mb('processor_nodejs_external_memory_bytes'))} MB`);
    }
    log(`freshness #${s}: analytics lag ${int(g.lag)} records; ${g.n} probes, p50 ${ms(g.p50, 0)}, p95 ${ms(g.p95, 0)}, p99 ${ms(g.p99, 0)}, max ${ms(g.max, 0)}${g.missing ? `, ${g.missing} NOT SEEN` : ''}; traffic ${int(g.rate)} events/s accepted`);
    log(`freshness #${s} hops (p50 / p95; ${traces.size} of ${sent.size} probes traced): ${HOPS.map((h) => `${h.label} ${ms(percentile(hops[h.key], 50), 0)} / ${ms(percentile(hops[h.key], 95), 0)}`).join(', ')}; analytics flushes ${g.flushesPerS.toFixed(1)}/s, ${ms(g.flushMeanMs, 0)} each`);
  }
  const roles: RoleLive[] = ROLES.map((role, i) => {
    const r = rss[i].stop();
    const sorted = [...r.samples].sort((x, y) => x - y);
    return { role, cpuUsPerEvent: ((procs[i].cpuSeconds() - cpu0[i]) / Math.max(1, accepted)) * 1e6, rssPeakMb: r.peakMb, rssMedianMb: sorted[sorted.length >> 1] ?? NaN };
  });
  await Promise.all(procs.map((p) => p.stop()));
  await gw.stop();
  return { segments, all, roles };
}
