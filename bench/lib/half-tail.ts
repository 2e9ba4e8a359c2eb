/**
 * Where a paced run's slow requests waited, from the generator's side and the gateway's /metrics
 * scraped before and after the run: shared by bench:gateway's half-load runs and bench:gateway-half.
 */
import { histogramDelta } from './histograms.js';
import type { Measured } from './measure.js';
import { int, ms } from './stats.js';

/** The gateway's /metrics page ('' when it does not answer). */
export async function scrape(port: number): Promise<string> {
  try {
    return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  } catch {
    return '';
  }
}

/** Increase of counter `name` between two scrapes, by the value of `label` (those that grew). */
function counterDelta(before: string, after: string, name: string, label: string): [string, number][] {
  const values = (text: string) => {
    const out = new Map<string, number>();
    const re = new RegExp(`^${name}\\{[^}]*${label}="([^"]*)"[^}]*\\} (\\S+)$`, 'gm');
    for (const m of text.matchAll(re)) out.set(m[1], (out.get(m[1]) ?? 0) + Number(m[2]));
    return out;
  };
  const a = values(before);
  return [...values(after)].map(([k, v]): [string, number] => [k, v - (a.get(k) ?? 0)]).filter(([, n]) => n > 0);
}

/**
 * Where a paced run's slow requests waited: the generator itself (its send lag), a few stalls
 * (slow requests bunched in few 100 ms windows) or a spread, and the gateway's own histograms
 * over the run: time to Kafka's acknowledgement, admitted requests' time, event-loop turns, GC.
 */
export function tailWhy(m: Measured, before: string, after: string): string {
  const t = m.tail;
  const parts: string[] = [];
  if (t) parts.push(`generator lag p99 ${ms(t.sendLagP99)} max ${ms(t.sendLagMax)}${t.fromSendP99 === undefined ? '' : ` (p99 from the send instead of the due time ${ms(t.fromSendP99)})`}${t.loopDelayP99 === undefined ? '' : ` (its loop delay p99 ${ms(t.loopDelayP99)} max ${ms(t.loopDelayMax ?? NaN)})`}; ${t.slow} slow requests in ${t.slowWindows} windows of 100 ms, longest stall ${ms(t.longestStallMs)}${t.slowBySecond.size ? ` (slow by second of the run: ${[...t.slowBySecond].map(([s, n]) => `${s}:${n}`).join(' ')})` : ''}`);
  if (before && after) {
    const q = (name: string) => histogramDelta(before, after, name);
    const b = (s: number) => (s === Infinity ? 'more' : `<= ${ms(s * 1000)}`);
    const produce = q('gateway_produce_seconds');
    const queue = q('gateway_queue_seconds');
    const turn = q('gateway_loop_turn_seconds');
    const gc = q('gateway_nodejs_gc_duration_seconds');
    const scavenges = histogramDelta(before, after, 'gateway_nodejs_gc_duration_seconds', 'kind="minor"');
    parts.push(`Kafka send p50 ${b(produce.quantile(0.5))} p99 ${b(produce.quantile(0.99))} (${int(produce.count)} sends, ${int(produce.above(0.025))} over 25 ms)`);
    parts.push(`request in gateway p99 ${b(queue.quantile(0.99))}`);
    parts.push(`loop turns p99 ${b(turn.quantile(0.99))} (${int(turn.above(0.025))} over 25 ms)`);
    const shed = counterDelta(before, after, 'gateway_shed_requests_total', 'reason');
    if (shed.length) parts.push(`shed ${shed.map(([k, n]) => `${k} ${int(n)}`).join(', ')}`);
    parts.push(`GC pauses ${int(gc.count)} (${int(scavenges.count)} scavenges, ${ms(scavenges.sum * 1000)}), ${ms(gc.sum * 1000)} in all, ${int(gc.above(0.01))} over 10 ms`);
  }
  return parts.join('; ');
}
