/**
 * The webhook outbox: every alert is delivered at least once, also across restarts and SIGKILL.
 * The delivery state lives on the alert document itself (ALERT_DELIVERY_FIELDS): the writer of an
 * alert adds `initial()` to the document it creates, so the alert and its pending delivery become
 * durable in the same write. Then:
 *
 * - the instance that created it makes the first attempt at once (`created`, in the background: no
 *   flush or offset commit waits for a webhook), and records the outcome;
 * - the instance owning partition 0 of the analytics group (one at a time; after a rebalance the
 *   new owner takes over) polls the alerts index for pending deliveries that are due, whoever
 *   wrote them and whenever (before a crash too), and attempts each again, with jittered
 *   exponential backoff between attempts, until a 2xx (`delivered`) or until
 *   ALERT_WEBHOOK_MAX_ATTEMPTS / ALERT_WEBHOOK_MAX_AGE_S (`dead`: logged, counted).
 *
 * Every state change is a conditional update (`if_seq_no`) of the version the attempt started
 * from: when two instances attempt the same alert (a takeover, or a first attempt slower than its
 * grace), only one outcome is recorded and the other is dropped. A delivery may so be repeated
 * (a crash between the 2xx and the update, or such a race): receivers deduplicate on the alert id.
 */
import type { Client } from '@elastic/elasticsearch';
import type { AlertDelivery, AlertDeliveryState, AlertDoc } from '../../contracts/documents.js';
import type { PartitionedSink } from '../sink.js';
import { partitionZeroLeadership } from './partition-zero.js';
import { attemptDelivery, type AttemptResult, type WebhookOptions } from './webhook.js';

export interface OutboxOptions {
  client: Client;
  /** The alerts index. */
  index: string;
  webhook: WebhookOptions;
  maxAttempts: number;
  maxAgeMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
  pollMs: number;
  log: { info: (o: object, msg: string) => void; warn: (o: object, msg: string) => void; error: (o: object, msg: string) => void };
  now?: () => number;
  /** In [0, 1): the jitter of the backoff. */
  random?: () => number;
  /** Called once per attempt whose outcome was recorded: delivered, failed (retried later) or dead. */
  onOutcome?: (alert: AlertDoc, outcome: 'delivered' | 'failed' | 'dead') => void;
  /** Called after each poll with the alerts index's count of pending and dead deliveries. */
  onBacklog?: (pending: number, dead: number) => void;
  /** Attempts at once, per instance (first attempts beyond it wait for the poll). */
  concurrency?: number;
}

export interface AlertOutbox extends PartitionedSink {
  /** The delivery fields of an alert about to be created (called by its writer, for the `create` body). */
  initial(alert: AlertDoc): AlertDelivery;
  /** Called once `written` (an alert with `initial`'s fields) was created (201), with the version the create returned: makes the first attempt. */
  created(written: AlertDoc & AlertDelivery, seqNo: number | undefined, primaryTerm: number | undefined): void;
  /** Called at shutdown: no attempt starts after it; resolves when the ones running ended. */
  stop(): Promise<void>;
}

/**
 * Delay before attempt `attempts + 1`, after `attempts` failed ones: base x 2^(attempts-1), at
 * most `max`, jittered to between half and all of it so that alerts which failed together (a
 * receiver outage) do not all come back in the same instant.
 */
export function retryDelayMs(attempts: number, baseMs: number, maxMs: number, random: number): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(attempts - 1, 40)));
  return Math.round(full / 2 + (random * full) / 2);
}

const iso = (ms: number) => new Date(ms).toISOString();
/** Polled deliveries per read of the alerts index. */
const POLL_BATCH = 50;

type Source = AlertDoc & Partial<AlertDelivery>;
interface Versioned {
  alert: Source;
  seqNo: number;
  primaryTerm: number;
}

export function alertOutbox(o: OutboxOptions): AlertOutbox {
  const now = o.now ?? Date.now;
  const random = o.random ?? Math.random;
  const concurrency = Math.max(1, o.concurrency ?? 8);
  /** A first attempt is not polled before this: it is under way in the instance that wrote the alert. */
  const firstAttemptGraceMs = o.webhook.timeoutMs + 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const lead = partitionZeroLeadership({
    gained: () => schedule(),
    lost: () => {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  });
  let running: Promise<void> = Promise.resolve();
  const inFlight = new Set<Promise<void>>();
  /** An outcome was written since the last refresh: the next poll refreshes first, or it would read the attempted versions again. */
  let recorded = false;
  /** Alert ids with an attempt under way in this instance (not attempted twice at once here). */
  const attempting = new Set<string>();

  const track = (p: Promise<void>) => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  /** One attempt of a versioned pending delivery, and its outcome recorded if the document is still that version. */
  async function attempt(v: Versioned): Promise<void> {
    const { alert } = v;
    const id = alert.alert_id;
    if (attempting.has(id)) return;
    attempting.add(id);
    try {
      const result: AttemptResult = await attemptDelivery(alert, o.webhook);
      const t = now();
      const attempts = (alert.delivery_attempts ?? 0) + 1;
      let doc: Partial<AlertDelivery>;
      let outcome: 'delivered' | 'failed' | 'dead';
      if (result.ok) {
        outcome = 'delivered';
        doc = { delivery: 'delivered' satisfies AlertDeliveryState, delivery_attempts: attempts, delivered_at: iso(t), next_attempt_at: null, delivery_error: null };
      } else {
        const age = t - Date.parse(alert.queued_at ?? '');
        const dead = attempts >= o.maxAttempts || !(age < o.maxAgeMs);
        outcome = dead ? 'dead' : 'failed';
        doc = dead
          ? { delivery: 'dead' satisfies AlertDeliveryState, delivery_attempts: attempts, next_attempt_at: null, delivery_error: result.error }
          : { delivery_attempts: attempts, next_attempt_at: iso(t + retryDelayMs(attempts, o.baseDelayMs, o.maxDelayMs, random())), delivery_error: result.error };
      }
      try {
        recorded = true;
        await o.client.update({ index: o.index, id, if_seq_no: v.seqNo, if_primary_term: v.primaryTerm, doc, refresh: false });
      } catch (err) {
        // 409: another instance recorded an attempt of this version first; its outcome stands.
        if ((err as { meta?: { statusCode?: number } }).meta?.statusCode === 409) return;
        o.log.warn({ alert: id, err: (err as Error).message }, 'alert webhook: recording the delivery outcome failed (the delivery stays due and is attempted again)');
        return;
      }
      o.onOutcome?.(alert, outcome);
      if (outcome === 'dead') o.log.error({ alert: id, kind: alert.kind, attempts, error: doc.delivery_error }, 'alert webhook delivery dead-lettered: given up (ALERT_WEBHOOK_MAX_ATTEMPTS / ALERT_WEBHOOK_MAX_AGE_S)');
      else if (outcome === 'failed') o.log.warn({ alert: id, attempts, error: doc.delivery_error, next_attempt_at: doc.next_attempt_at }, 'alert webhook delivery failed, retrying');
    } finally {
      attempting.delete(id);
    }
  }

  /** Attempts the due pending deliveries, POLL_BATCH at a time, until none is due. */
  async function poll(): Promise<void> {
    for (;;) {
      if (!lead.leading || stopped) return;
      if (recorded) {
        recorded = false;
        await o.client.indices.refresh({ index: o.index, ignore_unavailable: true });
      }
      const t = now();
      const r = await o.client.search<Source>({
        index: o.index,
        ignore_unavailable: true,
        size: POLL_BATCH,
        seq_no_primary_term: true,
        query: { terms: { delivery: ['pending', 'dead'] } },
        aggs: { states: { terms: { field: 'delivery', size: 4 } } },
        post_filter: { bool: { filter: [{ term: { delivery: 'pending' } }, { range: { next_attempt_at: { lte: iso(t) } } }] } },
        sort: [{ next_attempt_at: { order: 'asc', unmapped_type: 'date' } }],
      });
      const states = (r.aggregations?.states as { buckets: { key: string; doc_count: number }[] } | undefined)?.buckets ?? [];
      const count = (s: string) => states.find((b) => b.key === s)?.doc_count ?? 0;
      o.onBacklog?.(count('pending'), count('dead'));
      const due: Versioned[] = r.hits.hits.filter((h) => h._source && h._seq_no !== undefined && h._primary_term !== undefined).map((h) => ({ alert: h._source!, seqNo: h._seq_no!, primaryTerm: h._primary_term! }));
      for (let i = 0; i < due.length; i += concurrency) {
        if (!lead.leading || stopped) return;
        await Promise.all(due.slice(i, i + concurrency).map(attempt));
      }
      if (due.length < POLL_BATCH) return;
    }
  }

  const schedule = () => {
    if (stopped || !lead.leading || timer) return;
    timer = setTimeout(() => {
      timer = null;
      running = running
        .then(poll)
        .catch((err: unknown) => o.log.warn({ err: (err as Error).message }, 'alert webhook: reading the alerts index for due deliveries failed, retrying'))
        .finally(schedule);
    }, o.pollMs);
    timer.unref();
  };

  return {
    name: 'alert-outbox',
    initial(alert) {
      const t = now();
      const old = !(t - Date.parse(alert.raised_at) < o.maxAgeMs);
      return {
        delivery: (old ? 'skipped' : 'pending') satisfies AlertDeliveryState,
        delivery_attempts: 0,
        queued_at: iso(t),
        next_attempt_at: old ? null : iso(t + firstAttemptGraceMs),
        delivered_at: null,
        delivery_error: null,
      };
    },
    created(written, seqNo, primaryTerm) {
      if (stopped || seqNo === undefined || primaryTerm === undefined || written.delivery !== 'pending') return;
      // Beyond the concurrency, the poll attempts it once its grace is over.
      if (inFlight.size >= concurrency) return;
      track(attempt({ alert: written, seqNo, primaryTerm }));
    },
    ...lead.sink,
    async stop() {
      stopped = true;
      lead.end();
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
      await Promise.all([...inFlight]);
    },
  };
}
