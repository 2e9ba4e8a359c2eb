/**
 * bench:processor's freshness phase: the gateway and the processor (one process per role, as a
 * scaled deployment runs them) live, paced traffic at `rate` events/s through the gateway, and
 * probe events (each with a site of its own) whose first appearance in a KPI window document is
 * watched for: freshness = request sent -> document read by the live dashboard (by id, in real
 * time) and visible to a search (Kibana's view, after a refresh). Also each role's CPU per event
 * and memory while it keeps up.
 *
 * With `ab`, a second analytics role (settings on top, or another checkout's code) consumes the
 * same topics in a group of its own and writes KPI documents under an index prefix of its own:
 * the same probes, traffic, machine load and searches for both, so the two compare in one run.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Client } from '@elastic/elasticsearch';
import { configToEnv } from '../../contracts/config.js';
import { indexNames } from '../../contracts/indices.js';
import { installTemplates } from '../../infra/setup-indices.js';
import { bodyPool } from './bodies.js';
import { httpOk, NodeChild } from './child.js';
import { probeHops, readTraces, type Hops } from './freshness-hops.js';
import { describeEsNode, sampleEsNode } from './es-node-sampler.js';
import { watchProbesApart } from './freshness-watch-thread.js';
import { getKey } from './freshness-watch.js';
import { metricValue, ROLES, rssSampler, spawnProcessor, type BenchRole, type ProcessorServices } from './processor-child.js';
import { pacedLoad } from './paced.js';
import { log, onCleanup } from './run.js';
import { clientEnv } from './secure.js';
import { int, loadAverage, ms, percentile, secs } from './stats.js';

/** One analytics role's figures in a segment. */
export interface SideSegment {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  n: number;
  missing: number;
  /** Records the analytics role had not read yet when the segment's probes were last watched. */
  lag: number;
  /** Where the time goes, per probe (medians and p95s of each hop). */
  hops: Hops;
  /** The same probes read by id in real time (the dashboard's read of open windows): freshness p50 / p95 and probes not found. */
  get: { p50: number; p95: number; n: number; missing: number };
  /** The analytics role's flushes during the segment: how many per second and their mean length. */
  flushesPerS: number;
  flushMeanMs: number;
}

export interface Segment {
  /** Events/s the gateway accepted (answered 200) during the segment. */
  rate: number;
  load: string;
  non2xx: number;
  /** The search loop: ms between one search's send and the next's, and each search's round trip. */
  pollCycle: number[];
  pollRoundTrip: number[];
  /** Per side (A, then B with `ab`). */
  sides: SideSegment[];
}

export interface RoleLive {
  role: string;
  cpuUsPerEvent: number;
  rssPeakMb: number;
  rssMedianMb: number;
}

export interface Freshness {
  /** What each side ran: A this checkout with --processor-env, B the `ab` settings or code. */
  sides: string[];
  segments: Segment[];
  /** Per side: every probe's freshness (ms), to a search and to a real-time get. */
  all: number[][];
  allGet: number[][];
  roles: RoleLive[];
  /** The index role after the traffic stopped (raw indexing may lag under load, then catches up): its lag then, and how long it took to reach 0 (NaN: not within the bound; `left` records behind then). */
  indexCatchUp?: { fromRecords: number; seconds: number; left: number };
}

export interface FreshnessOptions {
  services: ProcessorServices;
  es: Client;
  rate: number;
  segments: number;
  durationS: number;
  warmupS: number;
  probesPerS: number;
  /** Pause between one search for the probes' documents and the next, in ms (lib/freshness-watch.ts). */
  pollMs: number;
  /** Searches for them in flight at most. */
  searches: number;
  gatewayPort: number;
  /** Metrics port of the first role; the others follow (B's analytics role last). */
  metricsPort: number;
  dataDir: string;
  runTag: string;
  env: Record<string, string>;
  /** A second analytics role: `env` on top of `env` above, from `root` (another checkout) if given. */
  ab?: { env: Record<string, string>; root?: string };
  /** The roles started, one process each (default all): without `index`, what the KPIs' freshness would be if raw indexing lagged entirely. */
  roles?: readonly BenchRole[];
  /** The tumbling KPI window kind, its size and the topics' partitions: the ids of a probe's documents. */
  tumblingKind: string;
  tumblingMs: number;
  partitions: number;
  /** Longest wait, after the traffic, for the index role to catch up (s; 0: not measured). */
  catchUpMaxS?: number;
}

/** The probes are the events of sites starting with this: the analytics role traces them. */
const PROBE_PREFIX = 'probe-';

/** The analytics role's flush histogram: count and total seconds so far. */
async function flushStats(port: number): Promise<{ count: number; sum: number }> {
  const label = 'role="analytics"';
  const [count, sum] = await Promise.all([metricValue(port, 'processor_flush_seconds_count', label), metricValue(port, 'processor_flush_seconds_sum', label)]).catch(() => [NaN, NaN]);
  return { count, sum };
}

/**
 * Installs the index templates of `prefix` as `root`'s code would (default this checkout) with
 * `env`'s settings (the KPI index's refresh interval is a template setting); installTemplates
 * reads its settings from the environment, so `env` is put there for the call.
 */
async function templatesFor(esUrl: string, prefix: string, env: Record<string, string>, root?: string): Promise<void> {
  const install = root ? ((await import(pathToFileURL(path.resolve(root, 'infra', 'setup-indices.ts')).href)) as { installTemplates: typeof installTemplates }).installTemplates : installTemplates;
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    await install(esUrl, prefix, { replicas: 0 });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

export async function runFreshness(o: FreshnessOptions): Promise<Freshness> {
  const started = o.roles ?? ROLES;
  const topicPrefix = 'fr-';
  const sides = [
    { prefix: 'benchf', env: o.env, root: undefined as string | undefined, label: `A: this checkout${Object.keys(o.env).length ? ` with ${JSON.stringify(o.env)}` : ''}` },
    ...(o.ab ? [{ prefix: 'benchg', env: { ...o.env, ...o.ab.env }, root: o.ab.root, label: `B: ${[o.ab.root && `the code in ${o.ab.root}`, Object.keys(o.ab.env).length && `with ${JSON.stringify(o.ab.env)}`].filter(Boolean).join(' ')}` }] : []),
  ];
  for (const s of sides) await templatesFor(o.services.esUrl, s.prefix, s.env, s.root);
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
  // The analytics roles trace the probes' events to their KPI bulk (logged at info).
  const traced = (env: Record<string, string>) => ({ ...configToEnv({ kpiTraceSitePrefix: PROBE_PREFIX, logLevel: 'info' }), ...env });
  const spawn = (role: BenchRole, k: number, port: number) =>
    spawnProcessor({
      name: `processor-fresh-${role}${k ? '-b' : ''}`,
      roles: [role],
      services: o.services,
      topicPrefix,
      indexPrefix: sides[k].prefix,
      group: `bench-fresh-${k ? 'b-' : ''}${o.runTag}`,
      metricsPort: port,
      dataDir: o.dataDir,
      env: role === 'analytics' ? traced(sides[k].env) : sides[k].env,
      root: sides[k].root,
    });
  const procs = await Promise.all(started.map((role, i) => spawn(role, 0, o.metricsPort + i)));
  const analytics = sides.map((_, k) => ({ port: k ? o.metricsPort + started.length : o.metricsPort + started.indexOf('analytics'), proc: k ? null : procs[started.indexOf('analytics')] }));
  if (sides.length > 1) {
    analytics[1].proc = await spawn('analytics', 1, analytics[1].port);
    procs.push(analytics[1].proc);
  }
  await gw.waitReady(() => httpOk(`http://127.0.0.1:${o.gatewayPort}/readyz`), 60_000);

  const pool = bodyPool({ size: 2000, eventsPerBody: 20, seed: 11, tag: `f${o.runTag}` });
  // Paced, open-loop traffic (evenly spaced requests; lib/paced.ts), like many browsers.
  // The gateway corrects event times by receive time - sent_at: the events land in the last
  // 5 s before now, whatever the pool's fixed client date.
  const traffic = (seconds: number) => pacedLoad({ port: o.gatewayPort, path: '/v1/events?site=shop', rate: o.rate / 20, durationS: seconds, next: () => pool.next() });
  const lagOf = (k: number) => metricValue(analytics[k].port, 'processor_consumer_lag').catch(() => NaN);

  // Warm-up: at least warmupS, then until every analytics role has caught up with the traffic
  // (lag under half a second of it: a fresh group joining and the first indices being created
  // hold it back at first), at most 90 s; a processor slower than the traffic never catches up.
  const warmStart = performance.now();
  let warmLag: number[];
  for (;;) {
    await traffic(5);
    warmLag = await Promise.all(sides.map((_, k) => lagOf(k)));
    const elapsed = (performance.now() - warmStart) / 1000;
    if ((elapsed >= o.warmupS && warmLag.every((l) => l < o.rate / 2)) || elapsed >= 90) break;
  }
  const otherLag = await Promise.all(started.map((r, i) => (r === 'analytics' ? Promise.resolve(NaN) : metricValue(o.metricsPort + i, 'processor_consumer_lag').catch(() => NaN))));
  const others = started.map((r, i) => (r === 'analytics' ? '' : `, ${r} ${int(otherLag[i])}`)).join('');
  log(`freshness: warmed up for ${secs((performance.now() - warmStart) / 1000, 0)} at ${int(o.rate)} events/s; analytics lag ${warmLag.map(int).join(' / ')} records${others}`);
  const kpis = sides.map((s) => indexNames(s.prefix).kpis);
  const segments: Segment[] = [];
  const all: number[][] = sides.map(() => []);
  const allGet: number[][] = sides.map(() => []);
  const cpu0 = procs.map((p) => p.cpuSeconds());
  const rss = procs.map((p) => rssSampler(p.pid));
  let accepted = 0;
  let trafficEnded = performance.now();
  for (let s = 1; s <= o.segments; s++) {
    const load = await loadAverage();
    const tag = `${PROBE_PREFIX}${o.runTag}-${s}-`;
    const flush0 = await Promise.all(analytics.map((a) => flushStats(a.port)));
    const segStart = performance.now();
    const esNode = sampleEsNode(o.es);
    const watch = watchProbesApart({ esUrl: o.services.esUrl, gatewayPort: o.gatewayPort, tag, probesPerS: o.probesPerS, pollMs: o.pollMs, searches: o.searches, indices: kpis, graceMs: 15_000, gets: { kind: o.tumblingKind, sizeMs: o.tumblingMs, partitions: o.partitions } });
    const res = await traffic(o.durationS);
    trafficEnded = performance.now();
    accepted += res.ok * 20;
    // The node's figures while the traffic ran (the probes' grace period after it is quieter).
    const esFigures = await esNode.stop();
    const w = await watch.stop();
    const segSeconds = (performance.now() - segStart) / 1000;
    const sideSegs: SideSegment[] = [];
    for (const [k, side] of sides.entries()) {
      const flush1 = await flushStats(analytics[k].port);
      const lag = await lagOf(k);
      const seen = w.seen.get(kpis[k])!;
      const got = w.seen.get(getKey(kpis[k]))!;
      const f: number[] = [];
      const fg: number[] = [];
      for (const [site, t] of w.sent) {
        const v = seen.get(site);
        if (v !== undefined) f.push(v.at - t);
        const u = got.get(site);
        if (u !== undefined) fg.push(u.at - t);
      }
      all[k].push(...f);
      allGet[k].push(...fg);
      const traces = readTraces(analytics[k].proc!.logFile, tag);
      const flushes = flush1.count - flush0[k].count;
      const g: SideSegment = {
        p50: percentile(f, 50),
        p95: percentile(f, 95),
        p99: percentile(f, 99),
        max: f.length ? Math.max(...f) : NaN,
        n: f.length,
        missing: w.sent.size - f.length,
        lag,
        hops: probeHops(w.sent.keys(), w.startedAt, w.ackedAt, traces, seen, got),
        flushesPerS: flushes / segSeconds,
        flushMeanMs: flushes > 0 ? ((flush1.sum - flush0[k].sum) / flushes) * 1000 : NaN,
        get: { p50: percentile(fg, 50), p95: percentile(fg, 95), n: fg.length, missing: w.sent.size - fg.length },
      };
      sideSegs.push(g);
      const name = sides.length > 1 ? ` ${side.label.slice(0, 1)}` : '';
      log(`freshness #${s}${name}: analytics lag ${int(g.lag)} records; ${g.n} probes, p50 ${ms(g.p50, 0)}, p95 ${ms(g.p95, 0)}, p99 ${ms(g.p99, 0)}, max ${ms(g.max, 0)}${g.missing ? `, ${g.missing} NOT SEEN` : ''}; ${traces.size} of ${w.sent.size} probes traced; analytics flushes ${g.flushesPerS.toFixed(1)}/s, ${ms(g.flushMeanMs, 0)} each; read by id in real time p50 ${ms(g.get.p50, 0)}, p95 ${ms(g.get.p95, 0)}${g.get.missing ? `, ${g.get.missing} NOT FOUND` : ''}`);
    }
    const g: Segment = { rate: (res.ok * 20) / res.seconds, load, non2xx: res.non2xx + res.errors, pollCycle: w.cycles, pollRoundTrip: w.roundTrips, sides: sideSegs };
    log(`freshness #${s}: ${describeEsNode(esFigures)}`);
    segments.push(g);
    // Where each role's memory is (RSS = V8 heap + external/array buffers + code and native): what to cut.
    for (const [i, role] of started.entries()) {
      const port = o.metricsPort + i;
      const mb = async (name: string) => (await metricValue(port, name).catch(() => NaN)) / 1e6;
      // A role still catching up (index, archive) loads Elasticsearch and the cores the KPIs need.
      const lag = await metricValue(port, 'processor_consumer_lag').catch(() => NaN);
      log(`freshness #${s}: ${role} lag ${int(lag)} records, RSS ${int(await mb('processor_process_resident_memory_bytes'))} MB, V8 heap used ${int(await mb('processor_nodejs_heap_size_used_bytes'))} of ${int(await mb('processor_nodejs_heap_size_total_bytes'))} MB, external ${int(await mb('processor_nodejs_external_memory_bytes'))} MB`);
    }
    log(`freshness #${s}: traffic ${int(g.rate)} events/s accepted (${int(o.rate)} asked), ${g.non2xx} requests refused or failed; search poll cycle p50 ${ms(percentile(g.pollCycle, 50), 0)}, round trip p50 / p95 ${ms(percentile(g.pollRoundTrip, 50), 0)} / ${ms(percentile(g.pollRoundTrip, 95), 0)}; the traffic's event loop (the probes' before they had a thread) delayed p99 / max ${ms(res.loopDelayP99, 0)} / ${ms(res.loopDelayMax, 0)}`);
  }
  const names = [...started, ...(sides.length > 1 ? ['analytics (B)'] : [])];
  const roles: RoleLive[] = names.map((role, i) => {
    const r = rss[i].stop();
    const sorted = [...r.samples].sort((x, y) => x - y);
    // No traffic accepted: no per-event figure.
    return { role, cpuUsPerEvent: accepted > 0 ? ((procs[i].cpuSeconds() - cpu0[i]) / accepted) * 1e6 : NaN, rssPeakMb: r.peakMb, rssMedianMb: sorted[sorted.length >> 1] ?? NaN };
  });
  const catchUpMaxS = o.catchUpMaxS ?? 0;
  const indexCatchUp = started.includes('index') && catchUpMaxS > 0 ? await catchUp(o.metricsPort + started.indexOf('index'), catchUpMaxS, trafficEnded) : undefined;
  await Promise.all(procs.map((p) => p.stop()));
  await gw.stop();
  return { sides: sides.map((s) => s.label), segments, all, allGet, roles, ...(indexCatchUp ? { indexCatchUp } : {}) };
}

/**
 * After the traffic: how long, from its end, the index role takes to index what it left behind
 * under load, counted from the traffic's end until its lag gauge reads 0 (the gauge follows the
 * log also while a bulk is held for CPU pressure, index-yield.ts). `fromRecords`: the first
 * reading, taken after the segments' probes were seen.
 */
async function catchUp(port: number, maxS: number, trafficEnded: number): Promise<{ fromRecords: number; seconds: number; left: number }> {
  const lag = () => metricValue(port, 'processor_consumer_lag').catch(() => NaN);
  const fromRecords = await lag();
  let left = fromRecords;
  while (left > 0 && performance.now() - trafficEnded < maxS * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    left = await lag();
  }
  const seconds = left === 0 ? (performance.now() - trafficEnded) / 1000 : NaN;
  log(`freshness: after the traffic the index role ${left === 0 ? `had caught up ${seconds.toFixed(0)} s after its end (${int(fromRecords)} records behind at the first reading)` : `was still ${int(left)} records behind ${maxS} s after its end (from ${int(fromRecords)})`}`);
  return { fromRecords, seconds, left };
}
