/**
 * bench:gateway's overload table (issue 17): each overload phase (overload.ts) described and
 * checked against the targets and the maximum measured in the same run.
 */
import type { MemorySample, OverloadRun } from './overload.js';
import { int, ms, pct, table } from './stats.js';

/** The issue's targets at 5x the maximum (bench figures, never asserted in tests). */
export const OVERLOAD_TARGETS = { acceptedRatio: 0.9, acceptedP99Ms: 1500, shedP99Ms: 50 };
/** Past this send lag (p99, ms) the generator, not the gateway, explains part of the latencies; a second within it is one where the generator sent on time. */
export const LOADGEN_ON_TIME_MS = 10;

/** Cores the machine spent on neither the gateway, its generator nor the broker: other work sharing the machine. */
const otherCores = (o: OverloadRun) => o.machineCores - o.gatewayCores - o.loadgenCores - (Number.isFinite(o.brokerCores) ? o.brokerCores : 0);
/** Past this many cores of other work (of 2), a phase measured a shared machine, not the gateway alone. */
const OTHERS_OK_CORES = 0.2;

export function describeOverloadRun(o: OverloadRun): string {
  const t = o.timeoutsBy;
  const g = o.gw;
  return (
    `overload ${o.label} ${o.factor}x (${int(o.rate)} req/s offered): ${int(o.acceptedEventsPerS)} events/s accepted, ${pct(o.shedShare)} shed, ` +
    `on the wire (write -> answer) accepted p99 ${ms(o.serverAcceptedP99)}, shed p99 ${ms(o.serverShedP99)}; ${o.connectCount} TCP handshakes p50 ${ms(o.connectP50)} p99 ${ms(o.connectP99)}, accept queue overflows (machine-wide) ${int(o.listenOverflows)}; ` +
    `timeouts waiting for a generator connection ${t.queued}, in the handshake ${t.connecting}, sent and unanswered ${t.sent}; generator tick lag p99 ${ms(o.tickLagP99)}; ` +
    (g ? `gateway: shed ${g.shedBy}; p99 (bucket bound) admitted queue ${ms(g.queueP99Ms)}, Kafka produce ${ms(g.produceP99Ms)}, loop turn ${ms(g.loopTurnP99Ms)}, hand-over ${ms(g.handoverP99Ms)}, acceptor loop delay ${ms(g.acceptorLoopP99Ms)}; ` : '') +
    (o.mem ? `gateway (its processes summed) at its highest RSS sampled: ${describeMemory(o.mem)}; ` : '') +
    `accepted p50 ${ms(o.acceptedP50)} p99 ${ms(o.acceptedP99)} (generator's part p99 ${ms(o.clientAcceptedP99)}; kept-alive p99 ${ms(o.acceptedKeptP99)}, ${o.acceptedFresh} on new connections p99 ${ms(o.acceptedFreshP99)}), shed p99 ${ms(o.shedP99)} (by the acceptor ${ms(o.shedByAcceptor.p99)}, ${int(o.shedByAcceptor.n)}; by a gateway process ${ms(o.shedByProcess.p99)}, ${int(o.shedByProcess.n)}), ${o.timeouts} timeouts, ${o.otherFailures} other failures${o.otherCodes ? ` (${o.otherCodes})` : ''}, ` +
    `machine ${o.machineCores.toFixed(2)} cores busy (broker ${o.brokerCores.toFixed(2)}, of which its JIT compilers ${o.brokerJitCores.toFixed(2)}, others ${otherCores(o).toFixed(2)}), ` +
    `peak RSS ${int(o.peakRssMb)} MB, gateway ${o.gatewayCores.toFixed(2)} cores, ~${int(o.shedCpuUs)} µs CPU per shed request; load generator lag p99 ${ms(o.loadgenLagP99)}, ${o.loadgenCores.toFixed(2)} cores (${o.loadgenUsPerRequest.toFixed(1)} µs CPU per request), ${o.connections} connections; ` +
    `accepted req/s second by second ${o.acceptedPerS.map(int).join(' ')}, gateway loop busy (the busiest process) ${o.loopBusyPerS.map((x) => x.toFixed(2)).join(' ')}, ` +
    `shed req/s ${o.shedPerS.map(int).join(' ')}, shed p99 ms ${o.shedP99PerS.map(int).join(' ')}, on the wire ${o.wireShedP99PerS.map(int).join(' ')}, generator tick lag p99 ms ${o.tickLagP99PerS.map(int).join(' ')}`
  );
}

/** What the machine's cores allow at a phase's rate, beside the target: a target over the ceiling is out of reach here, whatever the gateway does. */
export function describeCeiling(o: OverloadRun): string {
  const c = o.ceiling;
  const verdict = (x: number) => `${pct(x)} (${x < OVERLOAD_TARGETS.acceptedRatio ? 'under' : 'over'} the target)`;
  return (
    `CPU ceiling at ${o.factor}x on ${c.cores} cores (an accepted request costing what it cost at the maximum, ${c.acceptedCpuMs.toFixed(3)} ms of gateway and broker CPU; bench/lib/cpu-ceiling.ts): ` +
    `accepted at most ${verdict(c.asMeasured)} of the max with this generator (${c.loadgenUs.toFixed(1)} µs CPU per request sent) and this phase's ${Number.isFinite(c.shedUs) && c.shedUs > 0 ? `${int(c.shedUs)} µs` : '(no estimate:) 0 µs'} per shed; ` +
    `${verdict(c.freeSheds)} with this generator if sheds cost nothing; ${verdict(c.generatorElsewhere)} with the generator on another machine and sheds at this phase's cost`
  );
}

function describeMemory(m: MemorySample): string {
  return `RSS ${int(m.rss)} MB (V8 heap ${int(m.heapUsed)} used of ${int(m.heapTotal)} MB, external ${int(m.external)} MB), ${int(m.connections)} connections, ${int(m.inFlightEvents)} events in flight, ${m.queuedBytes.toFixed(1)} MB of bodies held`;
}

/** The overload table, with the targets checked against the maximum measured in the same run. */
export function overloadReport(
  runs: OverloadRun[],
  opts: { durationS: number; maxReqPerS: number; maxEventsPerS: number; timeoutMs: number; threads: number; newConnectionShare: number },
): string {
  const { durationS, maxReqPerS, maxEventsPerS, timeoutMs, threads } = opts;
  const label = runs[0]?.label ?? '';
  const lines = [
    `overload, gateway ${label} (open loop over raw sockets, ${threads} generator threads, ${pct(opts.newConnectionShare)} of requests on a new connection of their own, ${durationS} s each, multiples of its measured max ${int(maxReqPerS)} req/s; client timeout ${timeoutMs / 1000} s; latencies from each request's due time, "gen" from due time to its first byte written (the generator's timer, a free connection, the handshake), "wire" from its first byte written to the answer):`,
    table(
      [
        'offered',
        'req/s',
        'accepted events/s',
        'vs max',
        'shed share',
        'accepted p50',
        'accepted p99',
        'gen p99 accepted',
        'wire p99 accepted',
        'accepted p99 kept / new conn',
        'shed p50',
        'shed p99',
        'wire p99 shed',
        'handshake p99 / accept queue overflows',
        'timeouts (gen / handshake / sent)',
        'other failures',
        'RSS before -> peak',
        'gw at its peak: heap used / total, external, connections',
        'cores gw / loadgen / broker / others',
        'loadgen CPU per req',
        'gw CPU per shed',
        'shed on a gw thread / by the acceptor',
        'loadgen tick lag p99',
        'gw p99: queue / Kafka / loop turn / hand-over / acceptor loop',
      ],
      runs.map((o) => [
        `${o.factor}x`,
        int(o.rate),
        int(o.acceptedEventsPerS),
        pct(o.acceptedEventsPerS / maxEventsPerS),
        pct(o.shedShare),
        ms(o.acceptedP50),
        ms(o.acceptedP99),
        ms(o.clientAcceptedP99),
        ms(o.serverAcceptedP99),
        `${ms(o.acceptedKeptP99)} / ${ms(o.acceptedFreshP99)}`,
        ms(o.shedP50),
        ms(o.shedP99),
        ms(o.serverShedP99),
        `${ms(o.connectP99)} / ${int(o.listenOverflows)}`,
        `${o.timeouts} (${o.timeoutsBy.queued} / ${o.timeoutsBy.connecting} / ${o.timeoutsBy.sent})`,
        o.otherFailures,
        `${int(o.rssBeforeMb)} -> ${int(o.peakRssMb)} MB`,
        o.mem ? `${int(o.mem.heapUsed)} / ${int(o.mem.heapTotal)}, ${int(o.mem.external)} MB, ${int(o.mem.connections)}` : '-',
        `${o.gatewayCores.toFixed(2)} / ${o.loadgenCores.toFixed(2)} / ${Number.isFinite(o.brokerCores) ? o.brokerCores.toFixed(2) : '-'} / ${otherCores(o).toFixed(2)}`,
        `${o.loadgenUsPerRequest.toFixed(1)} µs`,
        // Not positive: accepted requests cost more here than at the maximum (a busy machine), so the split says nothing.
        Number.isFinite(o.shedCpuUs) && o.shedCpuUs > 0 ? `${int(o.shedCpuUs)} µs` : '-',
        o.gw ? `${int(o.gw.shedOnThread)} / ${int(o.gw.shedByAcceptor)}` : '-',
        ms(o.tickLagP99),
        o.gw ? `<= ${ms(o.gw.queueP99Ms, 0)} / <= ${ms(o.gw.produceP99Ms, 0)} / <= ${ms(o.gw.loopTurnP99Ms, 0)} / <= ${ms(o.gw.handoverP99Ms, 0)} / <= ${ms(o.gw.acceptorLoopP99Ms, 0)}` : '-',
      ]),
    ),
  ];
  // Every phase at 5x is judged (--overload 5,5,5: the first one starts cold), or the last phase.
  const fives = runs.filter((o) => o.factor === 5);
  for (const top of fives.length ? fives : runs.slice(-1)) {
    const t = OVERLOAD_TARGETS;
    const ok = (b: boolean) => (b ? 'met' : 'MISSED');
    lines.push(
      `targets at ${top.factor}x: accepted ${pct(top.acceptedEventsPerS / maxEventsPerS)} of the max (>= ${pct(t.acceptedRatio)}: ${ok(top.acceptedEventsPerS >= t.acceptedRatio * maxEventsPerS)}), ` +
        `accepted p99 ${ms(top.acceptedP99)} (<= ${t.acceptedP99Ms} ms: ${ok(top.acceptedP99 <= t.acceptedP99Ms)}), ` +
        `shed p99 ${ms(top.shedP99)} (<= ${t.shedP99Ms} ms: ${ok(top.shedP99 <= t.shedP99Ms)}; on the wire ${ms(top.serverShedP99)}: ${ok(top.serverShedP99 <= t.shedP99Ms)}; ` +
        `by the acceptor ${ms(top.shedByAcceptor.p99)} (${int(top.shedByAcceptor.n)}), by a gateway process ${ms(top.shedByProcess.p99)} (${int(top.shedByProcess.n)}, ${pct(top.shedByProcess.n / Math.max(1, top.shedByProcess.n + top.shedByAcceptor.n))} of the sheds); ` +
        `over the ${top.onTimeSeconds} of ${top.shedP99PerS.length} s the generator was on time, tick lag p99 <= ${LOADGEN_ON_TIME_MS} ms: ${ms(top.shedP99OnTime)}${top.onTimeSeconds ? `: ${ok(top.shedP99OnTime <= t.shedP99Ms)}` : ''}), ` +
        `timeouts ${top.timeouts}, RSS peak ${int(top.peakRssMb)} MB`,
    );
    // Without maximum-load runs (--reps 0) there is no cost of an accepted request to judge by.
    if (Number.isFinite(top.ceiling.acceptedCpuMs)) lines.push(describeCeiling(top));
  }
  const shared = runs.filter((o) => otherCores(o) > OTHERS_OK_CORES);
  if (shared.length) {
    lines.push(
      `the machine was shared (other processes took ${shared.map((o) => `${otherCores(o).toFixed(2)} cores at ${o.factor}x`).join(', ')}, beyond the gateway, its generator and the broker): the gateway got what was left, not a core of its own`,
    );
  }
  const late = runs.filter((o) => o.tickLagP99 > LOADGEN_ON_TIME_MS);
  if (late.length) {
    lines.push(
      `the load generator itself fell behind (tick lag p99 over ${LOADGEN_ON_TIME_MS} ms at ${late.map((o) => `${o.factor}x`).join(', ')}): the machine is short of CPU, and those latencies (from due time) include the generator's own delay, not only the gateway's`,
    );
  }
  return lines.join('\n');
}
