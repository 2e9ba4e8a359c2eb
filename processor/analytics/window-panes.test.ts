import { describe, expect, test } from 'vitest';
import { sliding, tumbling, type WindowSpec } from '../../contracts/windows.js';
import { generateTraffic } from '../../test/harness/traffic.js';
import { referenceDocs } from '../../test/harness/reference.js';
import { logsOf, simEngineOptions, simulate } from '../../test/harness/engine-sim.js';

const min = 60_000;

/** URL documents without their `final` flag (how far the watermark got decides it; engine.test.ts compares them the same way). */
const withoutUrlFinal = (docs: Map<string, Record<string, unknown>>) =>
  new Map(
    [...docs].map(([k, d]) => {
      if (!k.startsWith('urlStats/')) return [k, d];
      const { final: _final, ...rest } = d;
      return [k, rest];
    }),
  );
const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);

/**
 * Sliding windows look up distinct visitors and sessions only when they are new to the tumbling
 * window that is their pane (kpi-windows.ts); window kinds without such a pane take the plain
 * path. Both must give the independent computation's documents, crashes included.
 */
describe('KPI windows with and without a tumbling pane', () => {
  test.each<[string, WindowSpec[]]>([
    ['tumbling 1m is the pane of sliding 5m/1m', [tumbling(min), sliding(5 * min, min)]],
    ['tumbling 2m is no pane of sliding 5m/1m', [tumbling(2 * min), sliding(5 * min, min)]],
    ['tumbling 5m is the pane of sliding 10m/5m', [tumbling(5 * min), sliding(10 * min, 5 * min)]],
    ['sliding alone', [sliding(3 * min, min)]],
  ])('%s: same documents as the independent computation', (_name, windows) => {
    const options = { ...simEngineOptions(1), windows };
    const events = generateTraffic({ seed: 71, visitors: 200, startMs: T0, spanMs: 40 * min, maxDelayMs: 10_000, lateShare: 0.01, botShare: 0.05, maxSessions: 3 }).map((g) => g.event);
    const logs = logsOf(events);
    const run = simulate(logs, options, { seed: 72, maxBatch: 60, crashChance: 0.03, maxCrashes: 6, otherSinkLag: 20 });
    const expected = referenceDocs(logs, options);
    expect(run.crashes).toBeGreaterThan(0);
    expect(withoutUrlFinal(run.docs)).toEqual(withoutUrlFinal(expected));
    expect([...run.docs.keys()].filter((k) => k.startsWith('kpis/')).length).toBeGreaterThan(100);
  }, 60_000);
});
