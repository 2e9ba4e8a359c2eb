/**
 * Runs the site-level detector in the processor. Its input is the per-site KPI series summed over
 * every partition, and so over every analytics instance: it is read back from the KPI index
 * (tumbling windows, `site` dimension) rather than computed from the windows this instance owns.
 * One instance judges: the one the analytics group gave partition 0 (exactly one at a time; after
 * a rebalance the new owner takes over). It judges a step window once every partition's sealed
 * (`final`) windows reach past it (`judgeableUntil`), so the series it sees is the one a replay
 * rebuilds, and alerts get deterministic ids (kind | site | window start) written with `create`.
 *
 * At start (and on taking partition 0 over) it reruns the detector over ANOMALY_SITE_HISTORY_WEEKS
 * of the KPI index, from a whole number of weeks since the epoch: the seasonal baseline, the
 * level noise and the usual conversion are learned from it, and the alerts of that history are
 * the ones any earlier run wrote (already there: nothing changes). A new alert is written with its
 * pending webhook delivery (the outbox delivers it, also after a restart), unless it is older than
 * ALERT_WEBHOOK_MAX_AGE_S (a first rerun over old history: written `skipped`).
 *
 * It is a PartitionedSink only to learn which partitions this instance owns: it adds nothing per
 * event and never holds a commit back (everything it reads is already in Elasticsearch).
 */
import type { Client } from '@elastic/elasticsearch';
import { revenueAgg, revenueFromAgg, type AlertDelivery, type AlertDoc, type RevenueAgg } from '../../contracts/documents.js';
import { indexNames } from '../../contracts/indices.js';
import type { PartitionedSink } from '../sink.js';
import { partitionZeroLeadership } from './partition-zero.js';
import type { SiteDetectorOptions } from '../anomaly/site.js';
import { SiteJudge, judgeableUntil, type SiteTotals } from '../anomaly/site-judge.js';
import { siteAlert } from './alert-docs.js';
import type { AlertOutbox } from './outbox.js';

const WEEK = 7 * 86_400_000;
/** Step windows judged per read of the KPI index (bounds one query's buckets while catching up). */
const MAX_WINDOWS_PER_READ = 2000;

export interface SiteMonitorOptions {
  client: Client;
  indexPrefix: string;
  /** The tumbling KPI window kind (`tumbling_1m`) and its size; the step must be a multiple of it. */
  windowKind: string;
  windowMs: number;
  site: SiteDetectorOptions;
  historyWeeks: number;
  pollMs: number;
  graceMs: number;
  /** Null: alerts are only indexed (no webhook). */
  outbox: AlertOutbox | null;
  log: { info: (o: object, msg: string) => void; warn: (o: object, msg: string) => void };
  now?: () => number;
  /** Called once per alert indexed for the first time. */
  onAlert?: (alert: AlertDoc) => void;
  /** Called after each read of the KPI index, with the end of the last window judged (its alerts indexed). */
  onJudged?: (until: number) => void;
  /** The number of partitions of the event topics (every one must have sealed a window before it is judged). */
  partitions: () => Promise<number>;
}

export interface SiteMonitor extends PartitionedSink {
  /** Called at shutdown: no read of the KPI index starts after it; resolves when the one running ended. */
  stop(): Promise<void>;
}

export function siteMonitor(o: SiteMonitorOptions): SiteMonitor {
  const { stepMs } = o.site;
  if (stepMs % o.windowMs !== 0) throw new Error(`ANOMALY_SITE_STEP_S (${stepMs / 1000} s) must be a multiple of KPI_TUMBLING_S (${o.windowMs / 1000} s)`);
  const now = o.now ?? Date.now;
  const index = indexNames(o.indexPrefix).kpis;
  const alertsIndex = indexNames(o.indexPrefix).alerts;
  let stopped = false;
  let judge: SiteJudge | null = null;
  /** Judged windows' alerts not yet written (a failed write is retried before judging more). */
  let unwritten: AlertDoc[] = [];
  /** Partitions of the event topics, read when this instance took partition 0. */
  let partitions = 1;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();
  const lead = partitionZeroLeadership({ gained: () => schedule(), lost: () => dropLeadership() });

  const schedule = () => {
    if (stopped || !lead.leading || timer) return;
    timer = setTimeout(() => {
      timer = null;
      // Chained: a tick of a former leadership still running finishes first.
      running = running
        .then(tick)
        .catch((err: unknown) => o.log.warn({ err: (err as Error).message }, 'site-level anomaly detection: reading or writing Elasticsearch failed, retrying'))
        .finally(schedule);
    }, o.pollMs);
    timer.unref();
  };

  async function tick() {
    if (!lead.leading || stopped) return;
    if (!judge) {
      const j = new SiteJudge(o.site);
      const from = Math.floor((now() - o.historyWeeks * WEEK) / WEEK) * WEEK;
      j.startAt(from);
      partitions = await o.partitions();
      judge = j;
    }
    const j = judge;
    await writeAlerts();
    for (;;) {
      const from = j.nextWindow;
      const until = Math.min(judgeableUntil(await sealedTo(from - WEEK), now(), o.graceMs, stepMs), from + MAX_WINDOWS_PER_READ * stepMs);
      if (until <= from || j !== judge) return;
      const totals = await siteTotals(from, until);
      if (j !== judge) return; // partition 0 was revoked meanwhile
      for (let t = from; t < until; t += stepMs) {
        for (const f of j.judge(t, totals.get(t) ?? new Map())) {
          const threshold = f.finding.kind.startsWith('traffic') ? o.site.trafficThreshold : o.site.purchasesThreshold;
          unwritten.push(siteAlert(f.site, f.finding, stepMs, threshold));
        }
      }
      await writeAlerts();
      o.onJudged?.(until);
    }
  }

  /** Per partition: the end of its last sealed tumbling window since `from` (-Infinity: none). */
  async function sealedTo(from: number): Promise<number[]> {
    const r = await o.client.search({
      index,
      size: 0,
      ignore_unavailable: true,
      query: { bool: { filter: [{ term: { window_kind: o.windowKind } }, { term: { dimension: 'all' } }, { range: { window_start: { gte: from } } }] } },
      aggs: { parts: { terms: { field: 'partition', size: 10_000 }, aggs: { sealed: { filter: { term: { final: true } }, aggs: { end: { max: { field: 'window_end' } } } } } } },
    });
    const buckets = (r.aggregations?.parts as { buckets: { key: number; sealed: { end: { value: number | null } } }[] } | undefined)?.buckets ?? [];
    const out = Array.from({ length: partitions }, () => -Infinity);
    for (const b of buckets) out[b.key] = b.sealed.end.value ?? -Infinity;
    return out;
  }

  /** Window start -> site -> totals over every partition, for the step windows in [from, until). */
  async function siteTotals(from: number, until: number): Promise<Map<number, Map<string, SiteTotals>>> {
    const out = new Map<number, Map<string, SiteTotals>>();
    let after: Record<string, string | number> | undefined;
    for (;;) {
      const r = await o.client.search({
        index,
        size: 0,
        ignore_unavailable: true,
        query: { bool: { filter: [{ term: { window_kind: o.windowKind } }, { term: { dimension: 'site' } }, { range: { window_start: { gte: from, lt: until } } }] } },
        aggs: {
          steps: {
            composite: {
              size: 1000,
              sources: [{ t: { date_histogram: { field: 'window_start', fixed_interval: `${stepMs}ms` } } }, { site: { terms: { field: 'dimension_value' } } }],
              ...(after ? { after } : {}),
            },
            aggs: { visitors: { sum: { field: 'unique_visitors' } }, purchases: { sum: { field: 'purchases' } }, revenue: revenueAgg() },
          },
        },
      });
      const agg = r.aggregations?.steps as
        | { after_key?: Record<string, string | number>; buckets: { key: { t: number; site: string }; visitors: { value: number }; purchases: { value: number }; revenue: RevenueAgg }[] }
        | undefined;
      for (const b of agg?.buckets ?? []) {
        let m = out.get(b.key.t);
        if (!m) out.set(b.key.t, (m = new Map()));
        // Revenue is evidence only (the usual order value), and only meaningful in one currency: NaN when the site sold in several.
        const revenue = revenueFromAgg(b.revenue);
        m.set(b.key.site, { visitors: b.visitors.value, purchases: b.purchases.value, revenue: revenue.length === 0 ? 0 : revenue.length === 1 ? revenue[0].revenue : NaN });
      }
      if (!agg?.after_key || (agg.buckets.length ?? 0) === 0) return out;
      after = agg.after_key;
    }
  }

  async function writeAlerts() {
    if (unwritten.length === 0) return;
    const batch = unwritten;
    const outbox = o.outbox;
    const docs: (AlertDoc & Partial<AlertDelivery>)[] = outbox ? batch.map((a) => ({ ...a, ...outbox.initial(a) })) : batch;
    const res = await o.client.bulk({ operations: docs.flatMap((alert) => [{ create: { _index: alertsIndex, _id: alert.alert_id } }, alert]) });
    const failed: string[] = [];
    const created: { alert: AlertDoc; seqNo?: number; primaryTerm?: number; doc: AlertDoc & Partial<AlertDelivery> }[] = [];
    res.items.forEach((item, i) => {
      const r = item.create;
      if (!r) return;
      if (r.status >= 200 && r.status < 300) created.push({ alert: batch[i], seqNo: r._seq_no, primaryTerm: r._primary_term, doc: docs[i] });
      else if (r.status !== 409) failed.push(`${batch[i].alert_id}: ${r.status} ${r.error?.reason ?? ''}`);
    });
    if (failed.length) throw new Error(`site alerts not indexed: ${failed.slice(0, 3).join('; ')}`);
    unwritten = [];
    for (const c of created) {
      o.log.info({ alert: c.alert.alert_id, kind: c.alert.kind }, 'alert raised');
      o.onAlert?.(c.alert);
      outbox?.created(c.doc as AlertDoc & AlertDelivery, c.seqNo, c.primaryTerm);
    }
  }

  const dropLeadership = () => {
    o.onJudged?.(0);
    judge = null;
    unwritten = [];
    if (timer) clearTimeout(timer);
    timer = null;
  };

  return {
    name: 'site-alerts',
    ...lead.sink,
    async stop() {
      stopped = true;
      o.onJudged?.(0);
      lead.end();
      dropLeadership();
      await running;
    },
  };
}
