import type { Config } from '../contracts/config.js';
import { CpuPressure } from './cpu-pressure.js';

/**
 * Raw indexing yields to the KPIs when the host is short of CPU. The bar is KPI freshness
 * while raw indexing may lag, but Elasticsearch does the raw writes at full priority whatever the
 * index role's own niceness (yield-cpu.ts): at 10,000 events/s on 2 cores it spent 0.5-0.65 of a
 * core on them and the KPI bulks queued behind (freshness p95 3-5 s; without raw indexing 1.3 s,
 * bench/README.md). So each raw-event bulk is held while the host's CPU pressure (cpu-pressure.ts)
 * is at or above the bound, and sent anyway once it was held `maxWaitMs` (progress, so the role is
 * never reported stalled) or once its oldest event was received `maxLagMs` ago (how stale the raw
 * index may get under sustained pressure). Raw indexing then runs on what the KPIs leave and
 * catches up when the pressure falls.
 */
export interface IndexYieldOptions {
  /** Hold bulks while the pressure (percent) is at or above this (PROCESSOR_INDEX_YIELD_PRESSURE_PCT); 0: never. */
  pressurePct: number;
  /** Longest hold of one bulk (PROCESSOR_INDEX_YIELD_MAX_WAIT_MS). */
  maxWaitMs: number;
  /** No hold once a bulk's oldest event was received this long ago (PROCESSOR_INDEX_YIELD_MAX_LAG_S, in ms here). */
  maxLagMs: number;
  /** How often the pressure is looked at again while holding. */
  pollMs: number;
}

export interface IndexYieldDeps {
  /** The host's CPU pressure, 0..1, null when unknown (then bulks are never held). */
  pressure: () => number | null;
  /** Monotonic ms, for the hold. */
  now: () => number;
  /** Epoch ms, for the events' age. */
  wallNow: () => number;
  sleep: (ms: number) => Promise<void>;
}

/**
 * Returns the gate a raw-event bulk passes before it is sent (called in the index sink's flush
 * with the bulk's oldest receive time, epoch ms); it resolves with how long it held the bulk.
 */
export function indexYield(o: IndexYieldOptions, d: IndexYieldDeps): (oldestReceivedAt: number) => Promise<number> {
  return async (oldestReceivedAt) => {
    if (o.pressurePct <= 0) return 0;
    const start = d.now();
    for (;;) {
      const p = d.pressure();
      if (p === null || p * 100 < o.pressurePct) break;
      if (d.now() - start >= o.maxWaitMs) break;
      if (d.wallNow() - oldestReceivedAt >= o.maxLagMs) break;
      await d.sleep(Math.min(o.pollMs, o.maxWaitMs - (d.now() - start)));
    }
    return d.now() - start;
  };
}

/** How often the pressure is read in the background, and looked at again while a bulk is held. */
const PRESSURE_INTERVAL_MS = 250;

/**
 * Called once per process that runs the index role: the gate from the settings, reading the
 * host's pressure in the background (nothing runs, and bulks are never held, when the setting is 0
 * or the kernel has no PSI). `onHeld` is called with the seconds each held bulk waited.
 */
export function startIndexYield(
  config: Pick<Config, 'processorIndexYieldPressurePct' | 'processorIndexYieldMaxWaitMs' | 'processorIndexYieldMaxLagS' | 'processorStallS'>,
  onHeld: (seconds: number) => void,
): { gate: ((oldestReceivedAt: number) => Promise<unknown>) | undefined; stop: () => void } {
  const pressure = new CpuPressure();
  if (config.processorIndexYieldPressurePct <= 0 || !pressure.start(PRESSURE_INTERVAL_MS)) return { gate: undefined, stop: () => {} };
  const gate = indexYield(
    // Held no longer than half the stall bound: a held role is yielding, not stuck.
    { pressurePct: config.processorIndexYieldPressurePct, maxWaitMs: Math.min(config.processorIndexYieldMaxWaitMs, (config.processorStallS * 1000) / 2), maxLagMs: config.processorIndexYieldMaxLagS * 1000, pollMs: PRESSURE_INTERVAL_MS },
    { pressure: () => pressure.share, now: () => performance.now(), wallNow: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
  );
  return {
    gate: async (oldest) => {
      const held = await gate(oldest);
      if (held > 0) onHeld(held / 1000);
    },
    stop: () => pressure.stop(),
  };
}
