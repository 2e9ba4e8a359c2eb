/**
 * bench:worker-handover — what handing the analytics role's records to a worker thread would cost
 * (issue 11: partitions' engines on worker threads, partition mod N). The stream detectors span
 * every partition, so the role's own thread parses every record anyway; a worker holding some
 * partitions' engines gets either (bytes) the records' bytes, copied out of the fetch Buffer into a
 * transferred ArrayBuffer, and parses them again, or (clone) the parsed events, structured-cloned.
 * Batches of --batch records as a partition's share of a fetch; CPU of each thread per record
 * (`process.threadCpuUsage`), so the two threads' shares are apart. No Kafka, no engine.
 *
 *   npm run bench:worker-handover -- [--records 16000] [--batch 800] [--reps 5]
 */
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { parseAnalyticsBytes } from '../processor/layout-parse.js';
import { parseArgs } from './lib/args.js';
import { enrichedEvents } from './lib/enriched.js';
import { log, runBench } from './lib/run.js';
import { loadAverage, median, table } from './lib/stats.js';

type Msg = { kind: 'bytes'; ab: ArrayBuffer; bounds: Int32Array } | { kind: 'clone'; events: unknown[] } | { kind: 'report' };

const threadCpuUs = (): number => {
  const c = process.threadCpuUsage();
  return c.user + c.system;
};

if (!isMainThread) {
  // The worker: parses what it gets as bytes (what its engines would need), and reports its CPU.
  let cpuAtReport = threadCpuUs();
  let sink = 0;
  parentPort?.on('message', (m: Msg) => {
    if (m.kind === 'bytes') {
      const buf = Buffer.from(m.ab);
      for (let i = 0; i < m.bounds.length; i += 2) if (parseAnalyticsBytes(buf, m.bounds[i], m.bounds[i + 1]) !== undefined) sink++;
    } else if (m.kind === 'clone') sink += m.events.length;
    else {
      const now = threadCpuUs();
      parentPort?.postMessage({ cpuUs: now - cpuAtReport, sink });
      cpuAtReport = now;
    }
  });
} else {
  const a = parseArgs();
  const N = a.num('records', 16_000);
  const BATCH = a.num('batch', 800);
  const REPS = a.num('reps', 5);
  await runBench('bench:worker-handover', 600, async () => {
    log(`worker hand-over: ${N} records in batches of ${BATCH}, ${REPS} repetitions; loadavg / cpu pressure ${await loadAverage()}`);
    const { docs } = enrichedEvents(N, 50_000, 'handover');
    const parts = docs.map((d) => Buffer.from(JSON.stringify(d)));
    const all = Buffer.concat(parts);
    const bounds: number[] = [];
    let at = 0;
    for (const p of parts) bounds.push(at, (at += p.length));
    const parsed = parts.map((_, k) => parseAnalyticsBytes(all, bounds[2 * k], bounds[2 * k + 1]));
    const worker = new Worker(new URL(import.meta.url));
    const report = () =>
      new Promise<{ cpuUs: number }>((resolve) => {
        worker.once('message', resolve);
        worker.postMessage({ kind: 'report' } satisfies Msg);
      });
    const ways: Record<string, (from: number, to: number) => void> = {
      'parse only (what the role does today)': (from, to) => {
        for (let k = from; k < to; k++) parseAnalyticsBytes(all, bounds[2 * k], bounds[2 * k + 1]);
      },
      'bytes copied + transferred, parsed again there': (from, to) => {
        const base = bounds[2 * from];
        const ab = new ArrayBuffer(bounds[2 * to - 1] - base);
        all.copy(new Uint8Array(ab), 0, base, bounds[2 * to - 1]);
        const rel = new Int32Array(bounds.slice(2 * from, 2 * to).map((x) => x - base));
        worker.postMessage({ kind: 'bytes', ab, bounds: rel } satisfies Msg, [ab, rel.buffer]);
      },
      'parsed events structured-cloned': (from, to) => worker.postMessage({ kind: 'clone', events: parsed.slice(from, to) } satisfies Msg),
    };
    const results = new Map<string, { main: number[]; worker: number[] }>(Object.keys(ways).map((w) => [w, { main: [], worker: [] }]));
    for (let r = 0; r < REPS; r++) {
      for (const [name, send] of Object.entries(ways)) {
        await report();
        const before = threadCpuUs();
        for (let s = 0; s < N; s += BATCH) send(s, Math.min(N, s + BATCH));
        const mainNs = ((threadCpuUs() - before) * 1000) / N;
        const { cpuUs } = await report();
        results.get(name)?.main.push(mainNs);
        results.get(name)?.worker.push((cpuUs * 1000) / N);
      }
    }
    await worker.terminate();
    console.log('\n=== bench:worker-handover (ns of CPU per record, median of the repetitions; the first is warm-up) ===');
    console.log(
      table(
        ['way', 'role thread', 'worker thread', 'both'],
        [...results].map(([name, x]) => {
          const m = median(x.main.slice(1));
          const w = median(x.worker.slice(1));
          return [name, m.toFixed(0), w.toFixed(0), (m + w).toFixed(0)];
        }),
      ),
    );
  });
}
