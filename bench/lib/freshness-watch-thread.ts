/**
 * The freshness probes and their search loop (freshness-watch.ts) on a thread of their own: on the
 * bench's main thread they shared the event loop with the paced traffic (500 requests/s, every
 * answer read there) and the metrics scrapes, so a probe's send, a search's send and the reading
 * of its answer waited for that loop, and its delay counted as freshness. Here they wait only for
 * the gateway and Elasticsearch. Times come back on the main thread's performance.now() clock.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Client } from '@elastic/elasticsearch';
import { watchProbes, type ProbeWatch, type WatchOptions } from './freshness-watch.js';

export type ThreadWatchOptions = Omit<WatchOptions, 'es'> & { esUrl: string };

interface ThreadParams {
  /** Marks this module's own thread (it may be imported on other worker threads, e.g. a test runner's). */
  probeThread: true;
  opts: ThreadWatchOptions;
  /** The main thread's performance.timeOrigin: this thread's times are shifted onto its clock. */
  origin: number;
}

/** Starts the probes and searches on a worker thread; `stop` as watchProbes's. */
export function watchProbesApart(opts: ThreadWatchOptions): { stop(): Promise<ProbeWatch> } {
  const w = new Worker(new URL(import.meta.url), { workerData: { probeThread: true, opts, origin: performance.timeOrigin } satisfies ThreadParams });
  const result = new Promise<ProbeWatch>((resolve, reject) => {
    w.once('message', (m: ProbeWatch) => resolve(m));
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`probe thread exited (${code}) before its result`)));
  });
  // Until stopped, a failed thread is reported by `stop`.
  result.catch(() => undefined);
  return {
    async stop() {
      w.postMessage('stop');
      try {
        return await result;
      } finally {
        void w.terminate();
      }
    },
  };
}

if (!isMainThread && parentPort && (workerData as Partial<ThreadParams> | null)?.probeThread === true) {
  const { opts, origin } = workerData as ThreadParams;
  const es = new Client({ node: opts.esUrl, requestTimeout: 30_000 });
  const watch = watchProbes({ ...opts, es });
  const port = parentPort;
  port.once('message', () => {
    void watch.stop().then(async (w) => {
      await es.close();
      port.postMessage(onClock(w, performance.timeOrigin - origin));
    });
  });
}

/** The watch with every point in time moved by `shift` ms (durations stay). */
export function onClock(w: ProbeWatch, shift: number): ProbeWatch {
  const move = (m: Map<string, number>) => new Map([...m].map(([k, t]) => [k, t + shift]));
  return {
    sent: move(w.sent),
    startedAt: move(w.startedAt),
    ackedAt: move(w.ackedAt),
    seen: new Map([...w.seen].map(([index, m]) => [index, new Map([...m].map(([site, s]) => [site, { at: s.at + shift, since: s.since + shift }]))])),
    cycles: w.cycles,
    roundTrips: w.roundTrips,
  };
}
