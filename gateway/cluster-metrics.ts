/**
 * One /metrics page for a gateway of several processes (GATEWAY_WORKERS, the acceptor): the process
 * a scrape reaches asks the primary, which collects every process's own metrics and sums them
 * (prom-client's aggregation; each gauge says how it adds up: metrics.ts).
 *
 * Why: a scrape reaches one process (the acceptor hands connections round robin; without it the
 * kernel picks), so each scrape used to show that process's counters alone. The counters then went
 * up and down from one scrape to the next, which Prometheus takes for restarts: rate() and every
 * alert built on it counted a whole process's total as an increase at each switch.
 *
 * A page is all processes or none: a process that does not answer within the bound fails the
 * scrape (503), since a page without it would look like a counter reset again.
 *
 * Not prom-client's own AggregatorRegistry.clusterMetrics(): its workers answer from the registry
 * as it stands, while ours first read the gauges and add the counts kept as plain numbers
 * (metrics-route.ts), and it asks every forked process, a starting one too; its summing is used.
 */
import { AggregatorRegistry } from 'prom-client';

/** Messages about metrics between the primary and the gateway processes (node:cluster IPC). */
export type MetricsMessage =
  /** Process -> primary, once it answers collections: from then on its metrics are in every page. */
  | { cmd: 'gwm:ready' }
  /** Process -> primary: a scrape wants the whole gateway's page (`id`: the asking process's). */
  | { cmd: 'gwm:ask'; id: number }
  /** Primary -> every process: its own metrics, for collection `id`. */
  | { cmd: 'gwm:collect'; id: number }
  /** Process -> primary: its own metrics (prom-client's getMetricsAsJSON()), or why it has none. */
  | { cmd: 'gwm:own'; id: number; metrics: object[]; error?: string }
  /** Primary -> the asking process: the page, or why there is none. */
  | { cmd: 'gwm:page'; id: number; text?: string; error?: string };

export const isMetricsMessage = (m: unknown): m is MetricsMessage =>
  typeof m === 'object' && m !== null && typeof (m as { cmd?: unknown }).cmd === 'string' && (m as { cmd: string }).cmd.startsWith('gwm:');

/** How long the primary waits for every process's metrics (ms): under Prometheus's default scrape timeout (10 s). */
export const COLLECT_TIMEOUT_MS = 5000;

/** A gateway process as the primary sees it. */
export interface MetricsPeer {
  readonly id: number;
  send(m: MetricsMessage): void;
}

interface Collection {
  asker: MetricsPeer;
  askId: number;
  waiting: Set<number>;
  got: object[][];
  timer: NodeJS.Timeout;
}

/**
 * The primary's side: answers each process's ask with the sum of the metrics of every process
 * ready (a process starting is left out until it says it is ready; one that exited is left out
 * from then on: its counters leave the sum, as a restarted process's would).
 */
export class MetricsAggregator {
  private seq = 0;
  private readonly collections = new Map<number, Collection>();
  private readonly peers = new Map<number, MetricsPeer>();

  constructor(private readonly timeoutMs = COLLECT_TIMEOUT_MS) {}

  /** Called with every metrics message from process `from`. */
  onMessage(from: MetricsPeer, m: MetricsMessage): void {
    if (m.cmd === 'gwm:ready') this.peers.set(from.id, from);
    else if (m.cmd === 'gwm:ask') this.collect(from, m.id);
    else if (m.cmd === 'gwm:own') {
      const c = this.collections.get(m.id);
      if (!c || !c.waiting.delete(from.id)) return;
      if (m.error !== undefined) return this.fail(m.id, c, `a gateway process could not give its metrics: ${m.error}`);
      c.got.push(m.metrics);
      if (c.waiting.size === 0) this.finish(m.id, c);
    }
  }

  /** Called when a gateway process exits: collections under way stop waiting for it. */
  remove(id: number): void {
    this.peers.delete(id);
    for (const [cid, c] of this.collections) if (c.waiting.delete(id) && c.waiting.size === 0) this.finish(cid, c);
  }

  private collect(asker: MetricsPeer, askId: number): void {
    const id = ++this.seq;
    const peers = [...this.peers.values()];
    const c: Collection = { asker, askId, waiting: new Set(peers.map((p) => p.id)), got: [], timer: setTimeout(() => this.fail(id, c), this.timeoutMs) };
    c.timer.unref();
    this.collections.set(id, c);
    for (const p of peers) p.send({ cmd: 'gwm:collect', id });
    if (c.waiting.size === 0) this.finish(id, c);
  }

  private finish(id: number, c: Collection): void {
    clearTimeout(c.timer);
    this.collections.delete(id);
    Promise.resolve()
      .then(() => AggregatorRegistry.aggregate(c.got).metrics())
      .then(
        (text) => c.asker.send({ cmd: 'gwm:page', id: c.askId, text }),
        (err: Error) => c.asker.send({ cmd: 'gwm:page', id: c.askId, error: `cannot sum the processes' metrics: ${err.message}` }),
      );
  }

  private fail(id: number, c: Collection, why = `${c.waiting.size} of the gateway's processes did not give their metrics within ${this.timeoutMs} ms`): void {
    clearTimeout(c.timer);
    this.collections.delete(id);
    c.asker.send({ cmd: 'gwm:page', id: c.askId, error: why });
  }
}

/**
 * A gateway process's side: `own()` gives its metrics when the primary collects them; `page()`
 * asks the primary for the whole gateway's, for a scrape. `send`: the channel to the primary.
 */
export function metricsClient(send: (m: MetricsMessage) => void, own: () => Promise<object[]>, timeoutMs = COLLECT_TIMEOUT_MS + 1000) {
  let seq = 0;
  const asked = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  return {
    /** Called with every metrics message from the primary. */
    onMessage(m: MetricsMessage): void {
      if (m.cmd === 'gwm:collect') {
        own().then(
          (metrics) => send({ cmd: 'gwm:own', id: m.id, metrics }),
          // The scrape fails at once and says why, rather than after the primary's timeout.
          (err: Error) => send({ cmd: 'gwm:own', id: m.id, metrics: [], error: err.message }),
        );
        return;
      }
      if (m.cmd !== 'gwm:page') return;
      const a = asked.get(m.id);
      if (!a) return;
      asked.delete(m.id);
      clearTimeout(a.timer);
      if (m.text !== undefined) a.resolve(m.text);
      else a.reject(new Error(m.error ?? 'no page'));
    },
    /** Called once this process's `own` can answer: the primary includes it from then on. */
    ready(): void {
      send({ cmd: 'gwm:ready' });
    },
    /** Called for a scrape: the sum of every process's metrics. */
    page(): Promise<string> {
      const id = ++seq;
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          asked.delete(id);
          reject(new Error(`the primary did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        timer.unref();
        asked.set(id, { resolve, reject, timer });
        send({ cmd: 'gwm:ask', id });
      });
    },
  };
}
