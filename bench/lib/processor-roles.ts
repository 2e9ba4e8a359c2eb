/**
 * One role of the processor alone (its own process and consumer group) over the N events already
 * in Kafka, from the beginning until its output holds all of them: analytics until every event is
 * counted in its KPI window, index until Elasticsearch applied every raw event, archive until its
 * commits' checkpoints say every record is archived (it commits only what the archive made durable).
 */
import path from 'node:path';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import type { Client } from '@elastic/elasticsearch';
import { sleep } from '../../common/wait.js';
import type { NodeChild } from './child.js';
import { archivedTotal, type BenchKafka } from './processor-kafka.js';
import { indexOps, kpiTotal, metricValue, rssSampler, spawnProcessor, type BenchRole, type ProcessorServices } from './processor-child.js';

export interface RoleRun {
  role: BenchRole;
  instances: number;
  /** Events per second from the role's first event to its output holding all N. */
  rate: number;
  /** Events per second handed to the role's sinks (consumed), first to last. */
  consumeRate: number;
  /**
   * Several processes: events per second handed to their sinks from the moment every one of them
   * held partitions (the group's last rebalance) until all N were read; NaN if that never came
   * before the end. One process: its consumeRate.
   */
  steadyConsumeRate: number;
  startupS: number;
  /** CPU of the role's processes from its first event to the end, per event. */
  cpuUsPerEvent: number;
  /** The largest peak of its processes. */
  rssPeakMb: number;
  /** Late events (analytics). */
  late: number;
  /**
   * Events handed to the role's sinks over all its processes: above N when a rebalance moved a
   * partition and its new owner read again from the committed offset (to rebuild its state).
   */
  handedOver: number;
  /** Where a CPU profile was written (--profile), if any. */
  profile?: string;
  profileWindowMs?: number;
}

export interface RoleRunOptions {
  role: BenchRole;
  services: ProcessorServices;
  es: Client;
  kafka: BenchKafka;
  n: number;
  /** Events a KPI window counts (no bots, no engagement reports). */
  kpiCounted: number;
  topicPrefix: string;
  indexPrefix: string;
  group: string;
  metricsPort: number;
  dataDir: string;
  env: Record<string, string>;
  profile: boolean;
  /** Node flags of the role's processes (e.g. --max-semi-space-size=32), besides the profiler's. */
  nodeFlags?: string[];
  /** Another checkout to run the role from (--ab-root). */
  root?: string;
  /** Processes of the role in its consumer group (metrics ports metricsPort, +1, ...); default 1. */
  instances?: number;
  /** Once done and measured, keep running this long (its last provisional documents written) before stopping. */
  settleMs?: number;
}

/** Settings the bench gives each role on top of --processor-env. */
const ROLE_ENV: Record<BenchRole, Record<string, string>> = {
  analytics: {},
  // Alone it has nothing to yield to (PROCESSOR_BACKGROUND_NICE is for sharing the CPU with the
  // analytics role), and the bulk loop it is compared with runs at the bench's own priority: niced
  // on a shared machine it measured what the other processes left it.
  index: { PROCESSOR_BACKGROUND_NICE: '0' },
  // Objects cut every 2,000 offsets, and the tail written after 5 s: with the defaults (20,000
  // offsets, 60 s) a bench-sized input is written only by the age cut, a minute after it was read.
  archive: { ARCHIVE_MAX_EVENTS: '2000', ARCHIVE_MAX_AGE_S: '5' },
};

export async function runRole(o: RoleRunOptions): Promise<RoleRun> {
  const profileDir = path.join(o.dataDir, 'profile', o.role);
  if (o.profile) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  const tSpawn = performance.now();
  const instances = Math.max(1, o.instances ?? 1);
  const children: NodeChild[] = await Promise.all(
    Array.from({ length: instances }, (_, i) =>
      spawnProcessor({
        name: `processor-${o.role}-${o.topicPrefix.replace(/-$/, '')}${instances > 1 ? `-${i + 1}of${instances}` : ''}`,
        roles: [o.role],
        services: o.services,
        topicPrefix: o.topicPrefix,
        indexPrefix: o.indexPrefix,
        group: o.group,
        metricsPort: o.metricsPort + i,
        dataDir: o.dataDir,
        env: { ...ROLE_ENV[o.role], ...o.env },
        root: o.root,
        nodeFlags: [...(o.nodeFlags ?? []), ...(o.profile && i === 0 ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
      }),
    ),
  );
  const rss = children.map((c) => rssSampler(c.pid));
  const cpuNow = () => children.reduce((sum, c) => sum + c.cpuSeconds(), 0);
  const consumedNow = async () => (await Promise.all(children.map((_, i) => metricValue(o.metricsPort + i, 'processor_events_total').catch(() => 0)))).reduce((x, y) => x + y, 0);
  let tFirst = 0;
  let cpuFirst = NaN;
  let tConsumed = 0;
  /** Several processes: when (and at what count) they last all held partitions. */
  let settled: { at: number; consumed: number } | null = null;
  let steadyConsumeRate = NaN;
  let late = 0;
  const deadline = performance.now() + 600_000;
  const readLate = async () => (late = (await Promise.all(children.map((_, i) => metricValue(o.metricsPort + i, 'processor_late_events_total').catch(() => 0)))).reduce((x, y) => x + y, 0));
  /** When the late events were last scraped: the role's CPU is counted until done, so not at every poll. */
  let lateAt = -Infinity;
  const done = async (): Promise<boolean> => {
    if (o.role === 'analytics') {
      const counted = await kpiTotal(o.es, o.indexPrefix).catch(() => 0);
      if (counted >= o.kpiCounted) return true;
      if (performance.now() - lateAt >= 200) {
        lateAt = performance.now();
        await readLate();
      }
      return counted >= o.kpiCounted - late;
    }
    if (o.role === 'index') return (await indexOps(o.es, `${o.indexPrefix}-events-*`)) >= o.n;
    return (await archivedTotal(o.kafka, `${o.group}-archive`, o.topicPrefix).catch(() => 0)) >= o.n;
  };
  let tDone: number;
  for (;;) {
    const dead = children.find((c) => !c.alive);
    if (dead) throw new Error(`processor (${o.role}) exited; see ${dead.logFile}`);
    // Once all were consumed, only `done` needs scraping.
    const consumed = tConsumed ? o.n : await consumedNow();
    const now = performance.now();
    if (!tFirst && consumed > 0) {
      tFirst = now;
      cpuFirst = cpuNow();
    }
    // The speed of several processes once the group is settled: a join's rebalance pauses them all
    // and has partitions read again, which on a short run weighs more than the scaling.
    if (instances > 1 && !tConsumed) {
      const held = await Promise.all(children.map((_, i) => metricValue(o.metricsPort + i, 'processor_assigned_partitions').catch(() => 0)));
      if (held.some((h) => h === 0)) settled = null;
      else settled ??= { at: now, consumed };
    }
    if (!tConsumed && consumed >= o.n) {
      tConsumed = now;
      if (settled) steadyConsumeRate = (consumed - settled.consumed) / ((now - settled.at) / 1000);
    }
    if (tConsumed && (await done())) {
      tDone = performance.now();
      break;
    }
    if (now > deadline) throw new Error(`processor (${o.role}): ${consumed} of ${o.n} consumed after 600 s; see ${children[0].logFile}`);
    // Every poll scrapes the role's /metrics, which costs the role CPU counted per event: on a
    // slow run, 5 scrapes a second were 5 % of its profile. So the poll slows down as the run
    // goes on, staying within 2.5 % of the time measured so far (200 ms to 1 s). Before the first
    // event (its CPU is not counted) and once all were consumed (only Elasticsearch is asked) it
    // polls every 20 ms: the run's first and last moments are what its rate is divided by, and at
    // 200 ms they were up to 0.4 s off on a run of 3 s (ConsumerPerformance times its own fetches).
    await sleep(tFirst && !tConsumed ? Math.min(1000, Math.max(200, (now - tFirst) / 40)) : 20);
  }
  const cpu = cpuNow() - cpuFirst;
  if (o.role === 'analytics') await readLate();
  const handedOver = await consumedNow();
  if (o.settleMs) await sleep(o.settleMs);
  const peakMb = Math.max(...rss.map((r) => r.stop().peakMb));
  await Promise.all(children.map((c) => c.stop()));
  let profile: string | undefined;
  if (o.profile) {
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile written in ${profileDir}`);
    profile = path.join(profileDir, file);
  }
  return {
    role: o.role,
    instances,
    rate: o.n / ((tDone - tFirst) / 1000),
    consumeRate: o.n / ((tConsumed - tFirst) / 1000),
    steadyConsumeRate: instances > 1 ? steadyConsumeRate : o.n / ((tConsumed - tFirst) / 1000),
    startupS: (tFirst - tSpawn) / 1000,
    cpuUsPerEvent: (cpu / o.n) * 1e6,
    rssPeakMb: peakMb,
    late,
    handedOver,
    profile,
    profileWindowMs: (tDone - tFirst) + 3000,
  };
}
