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
 * Runs `round` (maximum load for `roundS` seconds) until the broker's compilers are quiet or
 * `maxS` seconds of load have run (0: not at all).
 */
export async function warmBroker(brokerPid: number | undefined, maxS: number, roundS: number, round: () => Promise<void>): Promise<void> {
  if (roundS <= 0 || maxS <= 0) return;
  const t0 = performance.now();
  let loadS = 0;
  let share = NaN;
  let jitCores = NaN;
  while (loadS < maxS) {
    const jit0 = jitCpuSecondsOf(brokerPid);
    const cpu0 = cpuSecondsOf(brokerPid);
    const w0 = performance.now();
    await round();
    loadS += roundS;
    const jit = jitCpuSecondsOf(brokerPid) - jit0;
    share = jit / (cpuSecondsOf(brokerPid) - cpu0);
    jitCores = jit / ((performance.now() - w0) / 1000);
    if (!(share >= BROKER_JIT_QUIET_SHARE)) break;
  }
  log(`broker warmed for the measured phases: ${loadS} s at maximum load (${((performance.now() - t0) / 1000).toFixed(1)} s), its JIT compilers ${(share * 100).toFixed(1)} % of its CPU (${jitCores.toFixed(3)} cores) over the last round`);
}
