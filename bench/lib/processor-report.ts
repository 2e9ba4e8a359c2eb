/** bench:processor's printed result: each stage and role beside the limit measured in the same run. */
import { summarise } from './cpuprofile.js';
import { freshnessReport } from './freshness-report.js';
import type { Freshness } from './processor-freshness.js';
import type { RoleRun } from './processor-roles.js';
import { int, median, pct, secs, table } from './stats.js';

import { TARGETS } from './processor-targets.js';

export { TARGETS };

export interface Rep {
  /** The batch compression its topics were loaded with (--compressions). */
  compression: string;
  kafkaTool: number;
  kafkajs: number;
  bulk: number;
  roles: RoleRun[];
  cpu: { kafka: number; es: number };
  load: string;
}

/** The analytics role as several processes in one group, beside one process, and their documents compared. */
export interface ScaleRun {
  one: RoleRun;
  many: RoleRun;
  docs: number;
  missing: number;
  different: number;
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : String(x));

export function processorReport(o: { n: number; partitions: number; reps: Rep[]; header: string; bulkSize: number; bulkConcurrency: number; rate: number; probesPerS: number; pollMs: number; searches: number; durationS: number; fresh: Freshness | null; scale: ScaleRun | null }): string {
  const { reps } = o;
  const med = (f: (r: Rep) => number) => median(reps.map(f));
  const role = (r: Rep, name: string) => r.roles.find((x) => x.role === name);
  const roleMed = (name: string, f: (x: RoleRun) => number) => median(reps.map((r) => role(r, name)).filter((x): x is RoleRun => !!x).map(f));
  // A limit is the best its tool did in this run (issue 11: "the best plain bulk loop"): a slow
  // repetition of ConsumerPerformance (36,032 records/s against 182,927 in one quiet run) would
  // otherwise flatter every ratio taken against it.
  const best = (f: (r: Rep) => number) => {
    const xs = reps.map(f).filter((x) => Number.isFinite(x));
    return xs.length ? Math.max(...xs) : NaN;
  };
  const tool = best((r) => r.kafkaTool);
  const kjs = best((r) => r.kafkajs);
  const bulk = best((r) => r.bulk);
  // A role or tool left out with --skip prints so, not NaN.
  const ran = (name: string) => reps.some((r) => role(r, name));
  const skipped = (x: number, shown: (x: number) => string) => (Number.isNaN(x) ? 'skipped' : shown(x));
  const out: string[] = [];
  out.push('\n=== bench:processor ===');
  out.push(o.header);
  out.push(
    table(
      ['rep', 'Kafka tool rec/s', 'kafkajs rec/s', 'ES bulk docs/s', 'analytics ev/s', 'index ev/s', 'archive ev/s', 'µs CPU/ev a/i/a', 'RSS MB a/i/a', 'load / cpu psi'],
      reps.map((r, i) => [
        `#${i + 1}`,
        skipped(r.kafkaTool, int),
        skipped(r.kafkajs, int),
        skipped(r.bulk, int),
        skipped(role(r, 'analytics')?.rate ?? NaN, int),
        skipped(role(r, 'index')?.rate ?? NaN, int),
        skipped(role(r, 'archive')?.rate ?? NaN, int),
        r.roles.map((x) => f1(x.cpuUsPerEvent)).join('/'),
        r.roles.map((x) => int(x.rssPeakMb)).join('/'),
        r.load,
      ]),
    ),
  );
  out.push('');
  const rows: (string | number)[][] = [
    ['Kafka: ConsumerPerformance', skipped(tool, int), "Kafka's own consumer", '-', '-'],
    ['Kafka: bare kafkajs loop (+JSON.parse)', skipped(kjs, int), `ConsumerPerformance ${skipped(tool, int)}/s`, skipped(kjs / tool, pct), '-'],
    [`Elasticsearch: plain bulk loop (${int(o.bulkSize)} docs, ${o.bulkConcurrency} in flight)`, skipped(bulk, int), "Elasticsearch's own bulk", '-', '-'],
  ];
  const a = roleMed('analytics', (x) => x.rate);
  const i = roleMed('index', (x) => x.rate);
  const ar = roleMed('archive', (x) => x.rate);
  const vs = (name: string, x: number, limit: number, target?: number) =>
    !ran(name) || Number.isNaN(limit) ? ['skipped', '-'] : [pct(x / limit), target === undefined ? '-' : `>= ${pct(target)}: ${x / limit >= target ? 'met' : 'NOT met'}`];
  rows.push(['analytics role: counted in KPI windows', skipped(ran('analytics') ? a : NaN, int), `ConsumerPerformance ${skipped(tool, int)}/s`, ...vs('analytics', a, tool, TARGETS.analyticsVsKafka)]);
  const consumed = roleMed('analytics', (x) => x.consumeRate);
  rows.push(['analytics role: consumed', skipped(ran('analytics') ? consumed : NaN, int), `kafkajs loop ${skipped(kjs, int)}/s`, ...vs('analytics', consumed, kjs)]);
  rows.push(['index role: raw events applied by Elasticsearch', skipped(ran('index') ? i : NaN, int), `ES bulk loop ${skipped(bulk, int)}/s`, ...vs('index', i, bulk, TARGETS.indexVsBulk)]);
  rows.push(['archive role: committed (Parquet written)', skipped(ran('archive') ? ar : NaN, int), `ConsumerPerformance ${skipped(tool, int)}/s`, ...vs('archive', ar, tool)]);
  out.push(table(['stage (median; limits: best repetition)', 'per second', 'limit measured in the same run', 'ratio', 'target'], rows));
  out.push('');
  out.push(
    table(
      ['role (median, alone over the N events)', 'CPU µs/event', 'RSS peak', 'start-up'],
      (['analytics', 'index', 'archive'] as const).map((name) =>
        ran(name) ? [name, f1(roleMed(name, (x) => x.cpuUsPerEvent)), `${int(roleMed(name, (x) => x.rssPeakMb))} MB`, secs(roleMed(name, (x) => x.startupS))] : [name, 'skipped', 'skipped', 'skipped'],
      ),
    ),
  );
  out.push(`analytics late events: ${skipped(ran('analytics') ? roleMed('analytics', (x) => x.late) : NaN, int)}; Kafka / Elasticsearch CPU per repetition: ${skipped(med((r) => r.cpu.kafka), f1)} / ${skipped(med((r) => r.cpu.es), f1)} s`);
  if (o.scale) {
    const { one, many } = o.scale;
    out.push(
      `analytics role as ${many.instances} processes in one group (repetition #1): ${int(many.rate)} events/s = ${(many.rate / one.rate).toFixed(2)}x one process (${int(one.rate)}/s); consuming once every process held partitions ${int(many.steadyConsumeRate)}/s = ${(many.steadyConsumeRate / one.steadyConsumeRate).toFixed(2)}x one process's ${int(one.steadyConsumeRate)}/s; ${f1(many.cpuUsPerEvent)} µs CPU/event, ${int(many.handedOver)} events handed to the sinks (${pct(many.handedOver / o.n - 1)} read again after rebalances; one process ${int(one.handedOver)}); documents (KPI, URL, sessions): ${int(o.scale.docs)} compared, ${o.scale.missing} missing, ${o.scale.different} different (${o.scale.missing + o.scale.different === 0 ? 'the same' : 'NOT the same'})`,
    );
  }
  const compressions = [...new Set(reps.map((r) => r.compression))];
  if (compressions.length > 1) out.push('', compressionTable(reps, compressions));
  const prof = reps.flatMap((r) => r.roles).find((x) => x.profile);
  if (prof?.profile) out.push(`\n${profileText(prof)}`);
  if (o.fresh) out.push('', freshnessReport(o.fresh, o));
  return out.join('\n');
}

/** Per batch compression of the topics, the medians of its repetitions: what decoding it costs each role. */
function compressionTable(reps: Rep[], compressions: string[]): string {
  const of = (c: string) => reps.filter((r) => r.compression === c);
  const roleCpu = (c: string, name: string) => median(of(c).flatMap((r) => r.roles.filter((x) => x.role === name && x.instances === 1)).map((x) => x.cpuUsPerEvent));
  return table(
    ['topics written with (median of its reps)', 'reps', 'kafkajs loop rec/s', 'µs CPU/event analytics', 'index', 'archive', 'Kafka CPU s/rep'],
    compressions.map((c) => [c, of(c).length, int(median(of(c).map((r) => r.kafkajs))), f1(roleCpu(c, 'analytics')), f1(roleCpu(c, 'index')), f1(roleCpu(c, 'archive')), f1(median(of(c).map((r) => r.cpu.kafka)))]),
  );
}

/** Functions whose inclusive time the profile summary reports (names as V8 sees them). */
const PROFILED_FUNCTIONS = ['flushSinks', 'flush', 'add', 'bulkIndex', 'drain', 'encode', 'writeParquet', 'stringify', 'parse', 'eachBatch'];

function profileText(r: RoleRun): string {
  const sum = summarise(r.profile!, PROFILED_FUNCTIONS, r.profileWindowMs);
  const busy = sum.totalMs - sum.idleMs;
  const share = (x: number) => `${((x / busy) * 100).toFixed(1)}%`;
  return [
    `CPU profile of the ${r.role} role (${r.profile}), ${(busy / 1000).toFixed(1)} s busy of ${(sum.totalMs / 1000).toFixed(1)} s while it caught up; shares of busy time:`,
    '',
    table(['area (self time)', 'ms', 'share'], sum.byArea.filter((x) => x.area !== 'idle').slice(0, 20).map((x) => [x.area, int(x.ms), share(x.ms)])),
    '',
    table(['function (self time)', 'where', 'ms', 'share'], sum.byFunction.filter((x) => x.area !== 'idle').slice(0, 30).map((x) => [x.fn, x.where, int(x.ms), share(x.ms)])),
    '',
    table(['function (inclusive)', 'ms', 'share'], sum.inclusive.map((x) => [x.fn, int(x.ms), share(x.ms)])),
  ].join('\n');
}
