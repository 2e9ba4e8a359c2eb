/**
 * The freshness phase's probes: one page view a time for a site of its own, sent through the
 * gateway, and a loop watching one or more KPI indices for their site documents two ways: as the
 * live dashboard reads a window that may still change (by id, in real time: dashboard/live-windows.ts)
 * and as Kibana or any search sees it (after a refresh). Each search's send and answer times are
 * kept, so the poll's own part of a probe's figure is measured instead of assumed small.
 */
import type { Client } from '@elastic/elasticsearch';
import { USER_AGENTS } from '../../scripts/traffic-generator.js';
import { sleep } from '../../common/wait.js';
import { kpiPartialIds } from '../../dashboard/live-windows.js';

/** A probe's document first found: the answer of the search that held it, and when the last search that did not hold it was sent. */
export interface Sighting {
  /** Answer of the first search that held it (performance.now()): the probe's "visible" time. */
  at: number;
  /** Send time of the latest search answered without it (or the probe's own send time): the document became visible after this. */
  since: number;
}

export interface ProbeWatch {
  /** Per probe site the gateway answered 200: when its request was sent. */
  sent: Map<string, number>;
  /** Per probe site: when its request was sent and when it was answered 200. */
  startedAt: Map<string, number>;
  ackedAt: Map<string, number>;
  /** Per watched KPI index, per probe site: when its document was first found. */
  seen: Map<string, Map<string, Sighting>>;
  /** Every search of the loop: milliseconds between its send and the previous one's (the poll cycle), and its round trip. */
  cycles: number[];
  roundTrips: number[];
}

export interface WatchOptions {
  es: Client;
  gatewayPort: number;
  /** Prefix of this segment's probe sites. */
  tag: string;
  probesPerS: number;
  /** Pause between a search's answer and the next search (ms); with `searches` > 1, between two searches' sends. */
  pollMs: number;
  /** Searches in flight at most (1: the next leaves pollMs after the last one's answer). */
  searches: number;
  /** KPI indices searched (one search for all: each sees the same poll). */
  indices: string[];
  /** How long after `stop` probes not yet seen are looked for. */
  graceMs: number;
  /**
   * Also read each probe's tumbling window documents by id, in real time, with the dashboard's
   * ids (a multi-get sees a write once Elasticsearch acknowledged it, a search after the next
   * refresh): found ones go in `seen` under `<index>#get`.
   */
  gets?: { kind: string; sizeMs: number; partitions: number };
}

/** The key in `ProbeWatch.seen` of an index's real-time reads. */
export const getKey = (index: string): string => `${index}#get`;

/** Starts probing and watching; `stop` ends the probes, waits for the stragglers (at most graceMs) and returns what was seen. */
export function watchProbes(o: WatchOptions): { stop(): Promise<ProbeWatch> } {
  const keys = [...o.indices, ...(o.gets ? o.indices.map(getKey) : [])];
  const w: ProbeWatch = { sent: new Map(), startedAt: new Map(), ackedAt: new Map(), seen: new Map(keys.map((i) => [i, new Map()])), cycles: [], roundTrips: [] };
  /** Per probe site: the window starts its page view may fall in (the gateway may move its time by the clock skew it measures). */
  const startsOf = new Map<string, number[]>();
  let stop = false;
  let stopAt = Infinity;
  // Probes: one page view each from a browser (bots are kept out of KPIs), for a site of its own, so its KPI document tells when it was counted.
  const probing = (async () => {
    for (let k = 0; !stop; k++) {
      const site = `${o.tag}${k}`;
      const t = Date.now();
      const body = JSON.stringify({
        sent_at: t,
        events: [{ event_id: `${site}-e`, type: 'page_view', ts: t, visitor_id: `v-${site}`, session_id: `s-${site}`, url: 'https://shop.example/probe' }],
      });
      const started = performance.now();
      if (o.gets) startsOf.set(site, [...new Set([t - 1000, t + 1000].map((x) => Math.floor(x / o.gets!.sizeMs) * o.gets!.sizeMs))]);
      w.startedAt.set(site, started);
      void fetch(`http://127.0.0.1:${o.gatewayPort}/v1/events?site=${site}`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': USER_AGENTS[0], 'x-forwarded-for': '81.2.69.142' }, body })
        .then(async (res) => {
          await res.arrayBuffer();
          if (res.status === 200) {
            w.sent.set(site, started);
            w.ackedAt.set(site, performance.now());
          } else w.startedAt.delete(site);
        })
        .catch(() => w.startedAt.delete(site));
      await sleep(1000 / o.probesPerS);
    }
  })();
  const allSeen = () => [...w.seen.values()].every((m) => m.size >= w.sent.size);
  /** Per KPI index, per probe: send time of the latest search answered without its document. */
  const missedAt = new Map(keys.map((i) => [i, new Map<string, number>()]));
  /** Records what one read (search or get) of `index` held: every probe sent before it left is seen or missed. */
  const record = (key: string, heldSites: Set<string>, sentAt: number, now: number) => {
    const seen = w.seen.get(key)!;
    const missed = missedAt.get(key)!;
    for (const [site, started] of w.startedAt) {
      // A probe sent after this read left could not have been in it.
      if (seen.has(site) || started > sentAt) continue;
      if (heldSites.has(site)) seen.set(site, { at: now, since: Math.max(missed.get(site) ?? started, started) });
      else if (!(missed.get(site)! >= sentAt)) missed.set(site, sentAt);
    }
  };
  const get = async (index: string, sentAt: number) => {
    const g = o.gets!;
    const seen = w.seen.get(getKey(index))!;
    const ids: string[] = [];
    for (const [site, starts] of startsOf) {
      if (seen.has(site) || !w.startedAt.has(site)) continue;
      ids.push(...kpiPartialIds(g.kind, starts, 'site', site, g.partitions));
    }
    if (!ids.length) return;
    const res = await o.es.mget<{ dimension_value: string }>({ index, ids, _source: ['dimension_value'], realtime: true }).catch(() => null);
    if (!res) return;
    const held = new Set<string>();
    for (const d of res.docs) if ('found' in d && d.found && d._source?.dimension_value) held.add(d._source.dimension_value);
    record(getKey(index), held, sentAt, performance.now());
  };
  const search = async (sentAt: number) => {
    const res = await o.es
      .search<{ dimension_value: string }>({
        index: o.indices,
        size: 10_000,
        ignore_unavailable: true,
        _source: ['dimension_value'],
        query: { bool: { filter: [{ term: { dimension: 'site' } }, { prefix: { dimension_value: o.tag } }, { prefix: { window_kind: 'tumbling_' } }] } },
      })
      .catch(() => null);
    const now = performance.now();
    w.roundTrips.push(now - sentAt);
    if (!res) return;
    const held = new Map(o.indices.map((i) => [i, new Set<string>()]));
    for (const h of res.hits.hits) {
      const v = h._source?.dimension_value;
      if (v) held.get(h._index)?.add(v);
    }
    for (const index of o.indices) record(index, held.get(index)!, sentAt, now);
  };
  const watching = (async () => {
    // A search leaves every pollMs while fewer than `searches` are in flight, else when one answers.
    const inFlight = new Set<Promise<void>>();
    let lastSent = NaN;
    while (!stop || !allSeen()) {
      if (stop && performance.now() > stopAt + o.graceMs) break;
      if (inFlight.size >= o.searches) await Promise.race(inFlight);
      const sentAt = performance.now();
      if (Number.isFinite(lastSent)) w.cycles.push(sentAt - lastSent);
      lastSent = sentAt;
      const p = Promise.all([search(sentAt), ...(o.gets ? o.indices.map((i) => get(i, sentAt)) : [])])
        .then(() => undefined)
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (o.searches === 1) await p;
      await sleep(o.pollMs);
    }
    await Promise.all(inFlight);
  })();
  return {
    async stop() {
      stop = true;
      stopAt = performance.now();
      await probing;
      await watching;
      return w;
    },
  };
}
