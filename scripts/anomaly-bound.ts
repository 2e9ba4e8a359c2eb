/**
 * npm run anomaly:bound [-- --mus 2,3,5,8,12,20,30,60 --ratio 0.333 --budgets 288,20000]
 *
 * The floor under the site detector's conversion_drop latency: for each expected number of
 * purchases per window, the delay (p50 / p95, in windows) of the optimal sequential test (a
 * Poisson CUSUM with the usual conversion known exactly) for a conversion falling to `ratio`,
 * at each false-alarm budget (windows per false alarm: 288 is one a day of 5-minute windows if
 * every window held that many purchases). See processor/anomaly/cusum-bound.ts.
 */
import { parseArgs } from 'node:util';
import { cusumBound } from '../processor/anomaly/cusum-bound.js';

const { values } = parseArgs({
  options: {
    mus: { type: 'string', default: '2,3,5,8,12,20,30,60' },
    ratio: { type: 'string', default: '0.333' },
    budgets: { type: 'string', default: '288,20000' },
    seed: { type: 'string', default: '1' },
  },
});
const list = (s: string) => s.split(',').map((x) => Number(x.trim()));
const mus = list(values.mus);
const budgets = list(values.budgets);
const ratio = Number(values.ratio);
if ([...mus, ...budgets].some((x) => !(x > 0)) || !(ratio > 0 && ratio < 1)) {
  process.stderr.write('anomaly:bound: --mus and --budgets take positive numbers, --ratio one between 0 and 1\n');
  process.exit(2);
}
const lines = [`Conversion falling to ${ratio} of usual: optimal sequential test (Poisson CUSUM, usual rate known), delay in windows (1 = found in the first)`];
lines.push(['expected/window', ...budgets.map((b) => `1 per ${b} windows: h nats, p50 / p95`)].map((s) => s.padEnd(40)).join(''));
for (const mu of mus) {
  const cells = budgets.map((b) => {
    const r = cusumBound({ mu, ratio, windowsPerFalseAlarm: b, h0Windows: Math.max(200_000, 300 * b), trials: 4000, seed: Number(values.seed) });
    return `${r.threshold.toFixed(1)}, ${r.p50} / ${r.p95.toFixed(1)}`;
  });
  lines.push([String(mu), ...cells].map((s) => s.padEnd(40)).join(''));
}
process.stdout.write(lines.join('\n') + '\n');
