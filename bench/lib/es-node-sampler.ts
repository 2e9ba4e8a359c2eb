/**
 * What Elasticsearch's node did during a freshness segment, sampled from `_nodes/_local/stats`
 * every `everyMs`: whether its write thread pool was full (a KPI bulk arriving then waits in the
 * queue behind raw-event and session bulks), whether its refresh pool queued, and its garbage
 * collections (young and old: count and time), so a slow segment can be told apart by cause.
 */
import type { Client } from '@elastic/elasticsearch';
import { percentile } from './stats.js';

interface Sample {
  writeActive: number;
  writeQueue: number;
  writeRejected: number;
  writeCompleted: number;
  refreshQueue: number;
  youngCount: number;
  youngMs: number;
  oldCount: number;
  oldMs: number;
  heapUsedMb: number;
}

export interface EsNodeSegment {
  samples: number;
  /** Write threads of the pool (its size) and the mean busy of them. */
  writeThreads: number;
  writeActiveMean: number;
  /** Share of samples in which every write thread was busy or a task queued: a KPI bulk would wait. */
  writeFullShare: number;
  writeQueueP95: number;
  writeQueueMax: number;
  writeRejected: number;
  /** Shard-level write tasks done per second (a bulk request is one per shard it touches). */
  writeTasksPerS: number;
  refreshQueueMax: number;
  youngGcs: number;
  youngGcMs: number;
  oldGcs: number;
  oldGcMs: number;
  heapUsedMaxMb: number;
}

type NodeStats = {
  nodes: Record<
    string,
    {
      thread_pool?: Record<string, { threads?: number; active?: number; queue?: number; rejected?: number; completed?: number }>;
      jvm?: { mem?: { heap_used_in_bytes?: number }; gc?: { collectors?: Record<string, { collection_count?: number; collection_time_in_millis?: number }> } };
    }
  >;
};

/** Starts sampling; `stop` returns the segment's figures (NaN when no sample was taken). */
export function sampleEsNode(es: Client, everyMs = 500): { stop(): Promise<EsNodeSegment> } {
  const samples: Sample[] = [];
  let threads = NaN;
  let running = true;
  const started = performance.now();
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const res = (await es.nodes.stats({ node_id: '_local', metric: ['thread_pool', 'jvm'] })) as unknown as NodeStats;
        const node = Object.values(res.nodes)[0];
        const w = node?.thread_pool?.write ?? {};
        const gc = node?.jvm?.gc?.collectors ?? {};
        threads = w.threads ?? threads;
        samples.push({
          writeActive: w.active ?? 0,
          writeQueue: w.queue ?? 0,
          writeRejected: w.rejected ?? 0,
          writeCompleted: w.completed ?? 0,
          refreshQueue: node?.thread_pool?.refresh?.queue ?? 0,
          youngCount: gc.young?.collection_count ?? 0,
          youngMs: gc.young?.collection_time_in_millis ?? 0,
          oldCount: gc.old?.collection_count ?? 0,
          oldMs: gc.old?.collection_time_in_millis ?? 0,
          heapUsedMb: (node?.jvm?.mem?.heap_used_in_bytes ?? 0) / 1e6,
        });
      } catch {
        // A busy node may answer late or not at all: that sample is missing, the others count.
      }
      await new Promise((ok) => setTimeout(ok, Math.max(0, everyMs - (performance.now() - t0))));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const seconds = (performance.now() - started) / 1000;
      const first = samples[0];
      const last = samples[samples.length - 1];
      const d = (f: (s: Sample) => number) => (first && last ? f(last) - f(first) : NaN);
      const active = samples.map((s) => s.writeActive);
      const queue = samples.map((s) => s.writeQueue);
      return {
        samples: samples.length,
        writeThreads: threads,
        writeActiveMean: active.length ? active.reduce((x, y) => x + y, 0) / active.length : NaN,
        writeFullShare: samples.length ? samples.filter((s) => s.writeQueue > 0 || s.writeActive >= threads).length / samples.length : NaN,
        writeQueueP95: percentile(queue, 95),
        writeQueueMax: queue.length ? Math.max(...queue) : NaN,
        writeRejected: d((s) => s.writeRejected),
        writeTasksPerS: d((s) => s.writeCompleted) / seconds,
        refreshQueueMax: samples.length ? Math.max(...samples.map((s) => s.refreshQueue)) : NaN,
        youngGcs: d((s) => s.youngCount),
        youngGcMs: d((s) => s.youngMs),
        oldGcs: d((s) => s.oldCount),
        oldGcMs: d((s) => s.oldMs),
        heapUsedMaxMb: samples.length ? Math.max(...samples.map((s) => s.heapUsedMb)) : NaN,
      };
    },
  };
}

/** One log line of a segment's figures. */
export function describeEsNode(x: EsNodeSegment): string {
  const f = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : String(n));
  return (
    `Elasticsearch write pool ${f(x.writeActiveMean, 1)} of ${f(x.writeThreads)} threads busy on average, full or queued in ${f(x.writeFullShare * 100)} % of ${x.samples} samples ` +
    `(queue p95 ${f(x.writeQueueP95)}, max ${f(x.writeQueueMax)}; ${f(x.writeTasksPerS, 1)} shard writes/s; ${f(x.writeRejected)} rejected); refresh queue max ${f(x.refreshQueueMax)}; ` +
    `GC young ${f(x.youngGcs)} (${f(x.youngGcMs)} ms), old ${f(x.oldGcs)} (${f(x.oldGcMs)} ms); heap used max ${f(x.heapUsedMaxMb)} MB`
  );
}
