/**
 * bench:gateway's final report: every run, the medians per target, the ratios to the bare route
 * and to the brief's targets, and where CPU time per request goes (HTTP + parse, the gateway's
 * own work, the Kafka client, the broker).
 */
import type { Measured } from './measure.js';
import { int, median, ms, pct, table } from './stats.js';

/** The brief's targets. */
export const TARGET_EVENTS_PER_S = 100_000;
export const TARGET_P99_MS = 25;
const BARE_REFERENCE_REQ_PER_S = 29_000;

/** A series of measured runs against one target, as the median table names it. */
export interface Series {
  /** Short name for ratio lines, e.g. `gateway (platformatic)`. */
  name: string;
  label: string;
  runs: Measured[];
}

export interface GatewayReport {
  header: string;
  bare: Measured[];
  stub: Measured[];
  /** The stubbed gateway of another checkout (--ab-root), same rotation; empty without it. */
  abStub?: Series;
  uncoalesced: Measured[];
  /** The real gateway, one series per configuration; the first one gets the half-load runs. */
  gateways: Series[];
  half: { rate: number; runs: Measured[] };
  targetHalf: { rate: number; runs: Measured[] };
}

const HEADER = ['run', 'req/s', 'events/s', 'p50', 'p99', 'non2xx/err', 'cores server', 'cores kafka', 'cores loadgen', 'cpu ms/req server', 'cpu ms/req kafka', 'load / cpu psi'];
const row = (m: Measured) => [
  m.what,
  int(m.reqPerS),
  int(m.eventsPerS),
  ms(m.p50),
  ms(m.p99),
  `${m.non2xx}/${m.errors}`,
  m.cpu.server.toFixed(2),
  Number.isFinite(m.cpu.kafka) ? m.cpu.kafka.toFixed(2) : '-',
  m.cpu.loadgen.toFixed(2),
  m.cpuMsPerReq.server.toFixed(3),
  Number.isFinite(m.cpuMsPerReq.kafka) ? m.cpuMsPerReq.kafka.toFixed(3) : '-',
  m.load,
];

/**
 * The maximum against the target, met or not said outright: a whole percent alone rounded 99,757
 * events/s up to "100%".
 */
export function maximumVerdict(eventsPerS: number, bestEventsPerS = eventsPerS): string {
  const vs = (x: number) => `${((x / TARGET_EVENTS_PER_S) * 100).toFixed(1)}% (${x >= TARGET_EVENTS_PER_S ? 'met' : 'MISSED'})`;
  return `gateway events/s vs target ${int(TARGET_EVENTS_PER_S)}:        ${vs(eventsPerS)}${bestEventsPerS > eventsPerS ? `; best configuration ${vs(bestEventsPerS)}` : ''}`;
}

/** The half-load p99 against the target (at most TARGET_P99_MS). */
export function halfLoadVerdict(p99: number): string {
  return `p99 at half the measured max vs ${TARGET_P99_MS} ms:       ${ms(p99)} (${p99 <= TARGET_P99_MS ? 'met' : 'MISSED'})`;
}

const med = (xs: Measured[], f: (m: Measured) => number) => median(xs.map(f));
const medianRow = (label: string, xs: Measured[]) => [label, int(med(xs, (m) => m.reqPerS)), int(med(xs, (m) => m.eventsPerS)), ms(med(xs, (m) => m.p50)), ms(med(xs, (m) => m.p99))];

export function gatewayReport(r: GatewayReport): string {
  const out: string[] = [];
  const [gw, ...others] = r.gateways;
  out.push('=== bench:gateway ===', r.header);
  out.push(table(HEADER, [...r.bare, ...r.stub, ...(r.abStub?.runs ?? []), ...r.uncoalesced, ...r.gateways.flatMap((s) => s.runs), ...r.half.runs, ...r.targetHalf.runs].map(row)), '');
  out.push(
    table(
      ['median', 'req/s', 'events/s', 'p50', 'p99'],
      [
        medianRow('bare Fastify route (parse only)', r.bare),
        ...(r.stub.length ? [medianRow('gateway, Kafka stubbed (acks at once)', r.stub)] : []),
        ...(r.abStub?.runs.length ? [medianRow(r.abStub.label, r.abStub.runs)] : []),
        ...(r.uncoalesced.length ? [medianRow('gateway, one Kafka send per request', r.uncoalesced)] : []),
        ...r.gateways.map((s) => medianRow(s.label, s.runs)),
        medianRow(`gateway at half its max (${int(r.half.rate)} req/s)`, r.half.runs),
        ...(r.targetHalf.runs.length ? [medianRow(`gateway at half the target (${int(r.targetHalf.rate)} req/s)`, r.targetHalf.runs)] : []),
      ],
    ),
    '',
  );
  const bareMed = med(r.bare, (m) => m.reqPerS);
  const gwMax = med(gw.runs, (m) => m.reqPerS);
  const gwEvents = med(gw.runs, (m) => m.eventsPerS);
  out.push(`ratio ${gw.name} / bare route (same run): ${pct(gwMax / bareMed)} (${int(gwMax)} / ${int(bareMed)} req/s)`);
  for (const o of others) {
    const x = med(o.runs, (m) => m.reqPerS);
    out.push(`ratio ${o.name} / bare route (same run): ${pct(x / bareMed)} (${int(x)} / ${int(bareMed)} req/s); vs ${gw.name} ${(x / gwMax).toFixed(2)}x`);
    out.push(`CPU per request, ${o.name} (median, ms): gateway ${med(o.runs, (m) => m.cpuMsPerReq.server).toFixed(3)}, Kafka broker ${med(o.runs, (m) => m.cpuMsPerReq.kafka).toFixed(3)}`);
  }
  if (r.stub.length) out.push(`ratio gateway with Kafka stubbed / bare:     ${pct(med(r.stub, (m) => m.reqPerS) / bareMed)}`);
  if (r.stub.length && r.abStub?.runs.length) {
    const x = med(r.abStub.runs, (m) => m.reqPerS);
    out.push(
      `ratio ${r.abStub.name} / bare route (same run): ${pct(x / bareMed)}; this checkout's stub vs it ${(med(r.stub, (m) => m.reqPerS) / x).toFixed(2)}x; ` +
        `CPU per request (median, ms): this stub ${med(r.stub, (m) => m.cpuMsPerReq.server).toFixed(3)}, ${r.abStub.name} ${med(r.abStub.runs, (m) => m.cpuMsPerReq.server).toFixed(3)}`,
    );
  }
  if (r.uncoalesced.length) out.push(`gateway with / without coalesced sends:      ${(gwMax / med(r.uncoalesced, (m) => m.reqPerS)).toFixed(2)}x`);
  const cpuBare = med(r.bare, (m) => m.cpuMsPerReq.server);
  const cpuStub = r.stub.length ? med(r.stub, (m) => m.cpuMsPerReq.server) : NaN;
  const cpuGw = med(gw.runs, (m) => m.cpuMsPerReq.server);
  const cpuBroker = med(gw.runs, (m) => m.cpuMsPerReq.kafka);
  out.push(
    `CPU per request (median, ms): HTTP + parse ${cpuBare.toFixed(3)}` +
      (r.stub.length ? `; + validation, enrichment, dedup, serialisation ${(cpuStub - cpuBare).toFixed(3)}; + Kafka client ${(cpuGw - cpuStub).toFixed(3)}` : `; gateway ${cpuGw.toFixed(3)}`) +
      `; Kafka broker ${cpuBroker.toFixed(3)}. One core at these costs: bare ${int(1000 / cpuBare)} req/s, gateway ${int(1000 / cpuGw)} req/s = ${int((20 * 1000) / cpuGw)} events/s (+ the broker's share)`,
  );
  const best = Math.max(...r.gateways.map((s) => med(s.runs, (m) => m.eventsPerS)));
  out.push(maximumVerdict(gwEvents, best));
  out.push(halfLoadVerdict(med(r.half.runs, (m) => m.p99)));
  out.push(`bare route vs the brief's ~${int(BARE_REFERENCE_REQ_PER_S)} req/s:      ${pct(bareMed / BARE_REFERENCE_REQ_PER_S)} (this machine, this run)`);
  return out.join('\n');
}
