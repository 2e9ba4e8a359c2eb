/**
 * /api/kpis's real-time read of the windows that may still change (dashboard/live-windows.ts):
 * a multi-get by id next to the search, for the topics' configured partitions, and a second one
 * when the search saw a higher partition (topics grown after the setting was written).
 */
import type { Client, estypes } from '@elastic/elasticsearch';
import type { WindowSpec } from '../contracts/windows.js';
import type { KpiQuery } from './kpis-query.js';
import { kpiPartialIds, openWindowStarts } from './live-windows.js';
import type { KpiPartial } from './sums.js';

export interface LiveReadOptions {
  index: string;
  spec: WindowSpec | undefined;
  now: number;
  /** How long after its end a window may still change: the processor's allowed lateness. */
  openMs: number;
  partitions: number;
}

/** Found partial documents of `ids` (missing ones, and a missing index, are no documents). */
async function getPartials(es: Client, index: string, ids: string[]): Promise<KpiPartial[]> {
  if (!ids.length) return [];
  const res = await es.mget<KpiPartial>({ index, ids, realtime: true });
  return res.docs.flatMap((d) => ('found' in d && d.found && d._source ? [d._source] : []));
}

/** Starts the read; `finish` takes the search's answer and reads the partitions it saw beyond the configured ones. */
export function readLiveWindows(es: Client, q: KpiQuery, o: LiveReadOptions): { finish(res: estypes.SearchResponse): Promise<KpiPartial[]> } {
  const starts = o.spec ? openWindowStarts(o.spec, q, o.now, o.openMs) : [];
  const first = getPartials(es, o.index, kpiPartialIds(q.window, starts, q.dimension, q.value, o.partitions));
  // Answered with the search, or ignored: a failed read leaves the search's figures.
  first.catch(() => undefined);
  return {
    async finish(res) {
      const seen = (res.aggregations?.partition_max as { value?: number | null } | undefined)?.value;
      const upTo = typeof seen === 'number' ? seen + 1 : 0;
      const more = upTo > o.partitions ? getPartials(es, o.index, kpiPartialIds(q.window, starts, q.dimension, q.value, upTo, o.partitions)) : Promise.resolve([]);
      const [a, b] = await Promise.all([first, more]);
      return [...a, ...b];
    },
  };
}
