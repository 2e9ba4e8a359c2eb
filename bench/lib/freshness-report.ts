/** bench:processor's freshness result: per segment the load the gateway took, per analytics role its probes and hops. */
import { HOPS } from './freshness-hops.js';
import type { Freshness, Segment, SideSegment } from './processor-freshness.js';
import { TARGETS } from './processor-targets.js';
import { int, median, ms, pct, percentile, table } from './stats.js';

const pp = (d: number[]) => `${ms(percentile(d, 50), 0)} / ${ms(percentile(d, 95), 0)}`;

export function freshnessReport(fresh: Freshness, o: { rate: number; probesPerS: number; pollMs: number; searches: number; durationS: number }): string {
  const out: string[] = [];
  const segs = fresh.segments;
  const loadMet = (s: Segment) => s.rate >= TARGETS.freshnessLoadRatio * o.rate;
  const short = segs.filter((s) => !loadMet(s));
  out.push(`freshness at ${int(o.rate)} events/s through the gateway, one process per role (request sent -> KPI window document read by the live dashboard, by id in real time, and visible to a search; ${o.probesPerS} probes/s, ${o.searches > 1 ? `a search every ${o.pollMs} ms, at most ${o.searches} in flight` : `a search ${o.pollMs} ms after the previous one's answer`}):`);
  if (short.length) {
    const rates = short.map((s) => s.rate);
    out.push(
      `LOAD NOT MET: the gateway accepted ${int(Math.min(...rates))}${Math.max(...rates) > Math.min(...rates) ? `-${int(Math.max(...rates))}` : ''} events/s of the ${int(o.rate)} asked in ${short.length} of ${segs.length} segments (below ${pct(TARGETS.freshnessLoadRatio)}): their freshness is not a figure at ${int(o.rate)} events/s and is left out of the verdict.`,
    );
  }
  out.push(
    table(
      ['segment', 'traffic ev/s accepted', `load (>= ${pct(TARGETS.freshnessLoadRatio)})`, 'non2xx', 'search cycle p50 / p95', 'search round trip p50 / p95', 'load / cpu psi'],
      segs.map((s, k) => [`#${k + 1} (${o.durationS} s)`, int(s.rate), loadMet(s) ? 'met' : `NOT met (${pct(s.rate / o.rate)})`, s.non2xx, pp(s.pollCycle), pp(s.pollRoundTrip), s.load]),
    ),
  );
  for (const [k, label] of fresh.sides.entries()) {
    const side = segs.map((s) => s.sides[k]);
    out.push('');
    if (fresh.sides.length > 1) out.push(`${label}:`);
    out.push(
      table(
        ['segment', 'probes', 'dashboard p50', 'dashboard p95', 'not read', 'search p50', 'search p95', 'search p99', 'search max', 'not seen', 'analytics lag after'],
        side.map((s, j) => [`#${j + 1}${loadMet(segs[j]) ? '' : ' (load NOT met)'}`, s.n, ms(s.get.p50, 0), ms(s.get.p95, 0), s.get.missing, ms(s.p50, 0), ms(s.p95, 0), ms(s.p99, 0), ms(s.max, 0), s.missing, int(s.lag)]),
      ),
    );
    // Where the time goes: each hop's p50 / p95 per segment and over every probe (the hops of one probe add up to its freshness).
    out.push(
      table(
        ['hop (p50 / p95)', ...side.map((_, j) => `#${j + 1}`), 'all probes'],
        [...HOPS.map((h) => [h.label, ...side.map((s) => pp(s.hops[h.key])), pp(side.flatMap((s) => s.hops[h.key]))]), ['analytics flushes/s, mean', ...side.map((s) => `${s.flushesPerS.toFixed(1)}, ${ms(s.flushMeanMs, 0)}`), '']],
      ),
    );
    // The live dashboard reads a window that may still change by id, in real time; Kibana (any search) after a refresh.
    const verdict = (what: string, p95s: number[], all: number[]) => {
      const met = p95s.filter((_, j) => loadMet(segs[j]));
      const p95 = median(met);
      const v = met.length === 0 ? `NOT JUDGED: no segment at ${pct(TARGETS.freshnessLoadRatio)} of the load` : p95 < TARGETS.freshnessP95Ms ? 'met' : 'NOT met';
      return `${what}: p50 ${ms(percentile(all, 50), 0)}, p95: median of segments ${ms(median(p95s), 0)}${short.length ? (met.length ? ` (of the ${met.length} at the load: ${ms(p95, 0)})` : ' (none at the load)') : ''}, all probes ${ms(percentile(all, 95), 0)}; target < ${int(TARGETS.freshnessP95Ms)} ms at ${int(o.rate)} events/s (${v})`;
    };
    out.push(verdict('freshness to the live dashboard (real-time read by id)', side.map((s) => s.get.p95), fresh.allGet[k]));
    out.push(verdict('freshness to a search (Kibana; after the KPI index\'s refresh)', side.map((s) => s.p95), fresh.all[k]));
  }
  if (fresh.sides.length > 1) {
    const [a, b] = [0, 1].map((k) => segs.map((s) => s.sides[k]));
    out.push('');
    const ab = (what: string, p95: (s: SideSegment) => number, all: number[][]) =>
      `A/B on the same probes, ${what}: p95 per segment ${a.map((s, j) => `${ms(p95(s), 0)} / ${ms(p95(b[j]), 0)}`).join(', ')} (A / B); median of segments ${ms(median(a.map(p95)), 0)} / ${ms(median(b.map(p95)), 0)} = B ${(median(b.map(p95)) / median(a.map(p95))).toFixed(2)}x A; p50 of all probes ${ms(percentile(all[0], 50), 0)} / ${ms(percentile(all[1], 50), 0)}`;
    out.push(ab('the dashboard\'s read', (s) => s.get.p95, fresh.allGet));
    out.push(ab('searches', (s) => s.p95, fresh.all));
  }
  const c = fresh.indexCatchUp;
  if (c) {
    out.push(
      Number.isFinite(c.seconds)
        ? `raw indexing after the traffic: ${int(c.fromRecords)} records behind at the first reading, caught up ${c.seconds.toFixed(0)} s after the traffic's end`
        : `raw indexing after the traffic: ${int(c.fromRecords)} records behind, still ${int(c.left)} behind at the bound (--catch-up-max)`,
    );
  }
  out.push(
    table(
      [`role at ${int(o.rate)} events/s`, 'CPU µs/event', 'RSS median', 'RSS peak', `RSS < ${TARGETS.rssMb} MB`],
      fresh.roles.map((r) => [r.role, Number.isFinite(r.cpuUsPerEvent) ? r.cpuUsPerEvent.toFixed(1) : '- (no traffic accepted)', `${int(r.rssMedianMb)} MB`, `${int(r.rssPeakMb)} MB`, r.rssPeakMb < TARGETS.rssMb ? 'met' : 'NOT met']),
    ),
  );
  return out.join('\n');
}
