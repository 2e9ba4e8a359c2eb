/**
 * Where each paced request's time went, hop by hop (bench:gateway-half --trace): the generator's
 * own times (due, sent, answer read) joined with the gateway's Server-Timing (GATEWAY_TRACE_HOPS,
 * gateway/hop-trace.ts), all on the machine's wall clock. The hops add up to the latency measured
 * from the due time:
 *
 *   gen      due -> sent: the generator's own lateness (its timer, its CPU)
 *   connect  a new connection's first request only: sent -> the gateway process got the connection
 *            (TCP handshake, the acceptor's accept and its hand-over over IPC)
 *   inbound  then -> the gateway read the head: kernel buffers, the gateway's event loop busy
 *            elsewhere (a GC, other requests, Kafka answers)
 *   parse    head -> body parsed (upload, Fastify, JSON.parse)
 *   work     body -> records queued for Kafka (validation, enrichment, dedup: the gateway's own work)
 *   group    queued -> its send left (waiting for the send in flight: group commit)
 *   kafka    send left -> acknowledged (client encoding, the broker's acks=all round trip, its pauses)
 *   resume   acknowledged -> answer written (the loop getting back to the request)
 *   outbound answer written -> read by the generator (kernel, the generator's own loop lag)
 *
 * `gc`: the gateway's GC pauses between the request's send and its answer (they overlap the hops).
 */
import { percentile, table } from './stats.js';

export const HOPS = ['gen', 'connect', 'inbound', 'parse', 'work', 'group', 'kafka', 'resume', 'outbound'] as const;
type Hop = (typeof HOPS)[number];

export type RequestHops = Record<Hop | 'gc' | 'total', number> & { group_requests: number; ahead: number; newConnection: boolean };

/** The hops of one answered request, or null when its answer carried no Server-Timing (tracing off, or a 503 from the acceptor). */
export function requestHops(header: string | string[] | undefined, due: number, sent: number, end: number): RequestHops | null {
  if (typeof header !== 'string') return null;
  const dur = new Map<string, number>();
  const desc = new Map<string, string>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().split(';');
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const k = p.slice(0, eq).trim();
      const v = p.slice(eq + 1).trim();
      if (k === 'dur') dur.set(name, Number(v));
      else if (k === 'desc') desc.set(name, v.replace(/"/g, ''));
    }
  }
  const read = Number(desc.get('read'));
  if (!Number.isFinite(read)) return null;
  const g = (n: string) => dur.get(n) ?? NaN;
  const [parse, work, group, kafka, resume] = ['parse', 'work', 'group', 'kafka', 'resume'].map(g);
  const inGateway = [parse, work, group, kafka, resume].reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  const [groupRequests, , ahead] = (desc.get('send') ?? '').split('/').map(Number);
  const conn = Number(desc.get('conn'));
  const connect = Number.isFinite(conn) ? Math.max(0, conn - sent) : 0;
  return {
    gen: sent - due,
    connect,
    inbound: read - sent - connect,
    parse,
    work,
    group,
    kafka,
    resume,
    outbound: end - (read + inGateway),
    gc: g('gc'),
    total: end - due,
    group_requests: groupRequests,
    ahead,
    newConnection: Number.isFinite(conn),
  };
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');

/**
 * A table of the hops over a run's traced requests: p50 and p99 of each hop over all, and its
 * share of the time of the slow requests (over `slowMs`; the slowest 1 % when none is) and of the
 * slowest 1 %: what explains the tail.
 */
export function hopsTable(hops: (RequestHops | null)[], slowMs = 25): string {
  const all = hops.filter((h): h is RequestHops => h !== null);
  if (all.length === 0) return 'no traced answers (is GATEWAY_TRACE_HOPS on?)';
  const byTotal = [...all].sort((a, b) => b.total - a.total);
  const top = byTotal.slice(0, Math.max(1, Math.ceil(all.length / 100)));
  const slow = all.filter((h) => h.total > slowMs);
  const share = (set: RequestHops[], k: Hop | 'gc') => {
    const total = set.reduce((a, h) => a + h.total, 0);
    const part = set.reduce((a, h) => a + (Number.isFinite(h[k]) ? h[k] : 0), 0);
    return total > 0 ? `${((100 * part) / total).toFixed(0)} %` : '-';
  };
  const rows = [...HOPS, 'gc' as const].map((k) => {
    const xs = all.map((h) => h[k]).filter(Number.isFinite);
    return [k, f1(percentile(xs, 50)), f1(percentile(xs, 99)), f1(Math.max(...xs)), share(slow, k), share(top, k)];
  });
  rows.push(['total', f1(percentile(all.map((h) => h.total), 50)), f1(percentile(all.map((h) => h.total), 99)), f1(byTotal[0].total), '100 %', '100 %']);
  const groups = all.map((h) => h.group_requests).filter(Number.isFinite);
  const aheadSlow = slow.map((h) => h.ahead).filter(Number.isFinite);
  const fresh = all.filter((h) => h.newConnection).length;
  const freshSlow = slow.filter((h) => h.newConnection).length;
  return (
    table(['hop (ms)', 'p50', 'p99', 'max', `share of ${slow.length} slow (> ${slowMs} ms)`, `share of slowest ${top.length}`], rows) +
    `\nrequests per Kafka send p50 ${percentile(groups, 50)} p99 ${percentile(groups, 99)}; slow requests found ${aheadSlow.length ? percentile(aheadSlow, 50) : '-'} (p50) waiting or in flight ahead of them in the group commit; ${fresh} requests on a new connection (${freshSlow} of them slow)`
  );
}
