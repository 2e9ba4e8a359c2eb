import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { yieldCpu } from './yield-cpu.js';

const quiet = { warn() {} };

/** Runs yieldCpu in a child process (a test must not lower its own runner) and reads every thread's niceness back. */
function niceAfter(roles: string[], nice: number): { set: number | null; threads: number[] } {
  const script = `
    import { readdirSync } from 'node:fs';
    import { getPriority } from 'node:os';
    import { yieldCpu } from './processor/yield-cpu.ts';
    const set = yieldCpu({ processorBackgroundNice: ${nice} }, ${JSON.stringify(roles)}, { warn() {} });
    const threads = readdirSync('/proc/self/task').map((t) => getPriority(Number(t)));
    console.log(JSON.stringify({ set, threads }));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}');
}

describe('PROCESSOR_BACKGROUND_NICE', () => {
  test('an index or archive process lowers every one of its threads; one with analytics, or 0, changes nothing', () => {
    const base = niceAfter([], 0).threads[0];
    const idx = niceAfter(['index', 'archive'], 10);
    expect(idx.set).toBe(10);
    expect(idx.threads.length).toBeGreaterThan(1);
    expect(idx.threads.every((n) => n === Math.max(10, base))).toBe(true);
    const withAnalytics = niceAfter(['analytics', 'index'], 10);
    expect(withAnalytics.set).toBeNull();
    expect(withAnalytics.threads.every((n) => n === base)).toBe(true);
    expect(yieldCpu({ processorBackgroundNice: 0 }, ['index'], quiet)).toBeNull();
  });
});
