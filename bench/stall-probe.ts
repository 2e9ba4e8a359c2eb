/**
 * bench:stall-probe — how late a 1 ms sleep wakes up, second by second, beside a benchmark: run it
 * once at normal priority and once at real-time priority (`chrt -f 50`, root), during the same
 * load. A normal process late by tens of milliseconds while the real-time one is not says the
 * cores were busy with the machine's own processes (the guest's scheduler); both late says the
 * machine itself did not run (its host took the CPU).
 *
 *   npm run bench:stall-probe -- [--seconds 200] [--over 5]
 *   chrt -f 50 bash scripts/node.sh node --import tsx bench/stall-probe.ts --seconds 200
 *
 * Prints one line per second with a wake-up over --over ms (the time, the longest, how many), and a
 * summary at the end. Nothing is started, nothing listens, nothing is written.
 */
import { parseArgs } from './lib/args.js';

const a = parseArgs();
const SECONDS = a.num('seconds', 200);
const OVER = a.num('over', 5);

const end = Date.now() + SECONDS * 1000;
let second = Math.floor(Date.now() / 1000);
let worst = 0;
let over = 0;
let overall = 0;
let secondsOver = 0;
const sleep = () => new Promise<void>((r) => setTimeout(r, 1));
while (Date.now() < end) {
  const t0 = performance.now();
  await sleep();
  const late = performance.now() - t0 - 1;
  worst = Math.max(worst, late);
  if (late > OVER) over++;
  const now = Math.floor(Date.now() / 1000);
  if (now !== second) {
    if (over > 0) {
      secondsOver++;
      console.log(`${new Date(second * 1000).toISOString().slice(11, 19)} longest wake-up late ${worst.toFixed(1)} ms, ${over} over ${OVER} ms`);
    }
    overall = Math.max(overall, worst);
    second = now;
    worst = 0;
    over = 0;
  }
}
overall = Math.max(overall, worst);
console.log(`${SECONDS} s: ${secondsOver} seconds with a wake-up over ${OVER} ms; the latest ${overall.toFixed(1)} ms`);
