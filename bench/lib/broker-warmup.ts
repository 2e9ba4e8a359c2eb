/**
 * Warming a broker the bench started seconds ago before the measured phases: its JIT compilers
 * would otherwise take a share of the first ones (bench/README.md, ninth stop and twenty-first).
 */
import { cpuSecondsOf, jitCpuSecondsOf } from './child.js';
import { log } from './run.js';

/**
 * The broker's JIT compilers count as quiet under this share of the broker's CPU over a round of
 * maximum load (a share, not cores: on a busy machine the broker gets little load and compiles
 * slowly, which cores alone would read as warm).
 */
const BROKER_JIT_QUIET_SHARE = 0.1;

/**
 * Rounds in a row that must be quiet: C2 compiles in bursts, and one quiet round of 2 s ended a
 * warm-up after 8 s whose broker then compiled for 0.95 s of CPU during the gateway's first
 * measured repetition (0.16 cores beside it; 4 Dec 2026, twenty-second stop).
 */
const QUIET_ROUNDS = 2;

/** How the broker's CPU is read: its JIT compiler threads' and its whole process's, in seconds. */
export interface BrokerCpu {
  jit(): number;
  all(): number;
}

/**
 * Runs `round` (maximum load for `roundS` seconds) until the broker's compilers were quiet for
 * QUIET_ROUNDS rounds in a row or `maxS` seconds of load have run (0: not at all). Returns the
 * seconds of load it ran.
 */
export async function warmBroker(
  brokerPid: number | undefined,
  maxS: number,
  roundS: number,
  round: () => Promise<void>,
  cpu: BrokerCpu = { jit: () => jitCpuSecondsOf(brokerPid), all: () => cpuSecondsOf(brokerPid) },
): Promise<number> {
  if (roundS <= 0 || maxS <= 0) return 0;
  const t0 = performance.now();
  let loadS = 0;
  let quiet = 0;
  const shares: number[] = [];
  let jitCores = NaN;
  while (loadS < maxS && quiet < QUIET_ROUNDS) {
    const jit0 = cpu.jit();
    const cpu0 = cpu.all();
    const w0 = performance.now();
    await round();
    loadS += roundS;
    const jit = cpu.jit() - jit0;
    const share = jit / (cpu.all() - cpu0);
    shares.push(share);
    jitCores = jit / Math.max(1e-3, (performance.now() - w0) / 1000);
    // NaN (no CPU read) counts as quiet: nothing to wait for.
    quiet = share >= BROKER_JIT_QUIET_SHARE ? 0 : quiet + 1;
  }
  const last = shares.slice(-QUIET_ROUNDS).map((x) => `${(x * 100).toFixed(1)} %`);
  log(`broker warmed for the measured phases: ${loadS} s at maximum load (${((performance.now() - t0) / 1000).toFixed(1)} s), its JIT compilers ${last.join(', ')} of its CPU over the last ${last.length === 1 ? 'round' : `${last.length} rounds`} (${jitCores.toFixed(3)} cores in the last)`);
  return loadS;
}
