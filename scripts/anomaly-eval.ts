/**
 * npm run anomaly:eval [-- --seeds 1,2,3,4,5] [--scale 1,5]
 *
 * Runs the detectors, with the processor's settings (ANOMALY_* from the environment or their
 * defaults), over the labelled scenarios of test/harness/anomaly-scenarios.ts for several
 * seeds and prints per kind precision and recall at window level, entity-level precision and
 * recall for bursts, detection latency p50/p95, false alerts per simulated day on clean traffic,
 * and the targets beside them. The site level is run once per `--scale` (the shop's traffic as a
 * multiple of the scenarios' default), since its latency depends on how much a window holds.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config.js';
import { anomalyOptionsFromConfig } from '../processor/anomaly/options.js';
import { evaluate, evaluateSite } from '../test/harness/anomaly-eval.js';
import { DEFAULT_CONVERSION, DEFAULT_PEAK_VISITORS } from '../test/harness/anomaly-scenarios.js';
import { botSeparation } from '../test/harness/bot-separation.js';

const { values } = parseArgs({ options: { seeds: { type: 'string', default: '1,2,3,4,5' }, scale: { type: 'string', default: '1,5' } } });
const seeds = values.seeds.split(',').map((s) => Number(s.trim()));
if (seeds.some((s) => !Number.isInteger(s))) {
  process.stderr.write(`anomaly:eval: --seeds must be integers, comma-separated, got "${values.seeds}"\n`);
  process.exit(2);
}
const scales = values.scale.split(',').map((s) => Number(s.trim()));
if (scales.length === 0 || scales.some((s) => !(s > 0 && s <= 1000))) {
  process.stderr.write(`anomaly:eval: --scale must be positive numbers (traffic x the default shop), comma-separated, got "${values.scale}"\n`);
  process.exit(2);
}
const o = anomalyOptionsFromConfig(loadConfig());
const started = Date.now();
const [first, ...more] = scales;
const r = evaluate({ seeds, scale: first, site: o.site, visitorBursts: o.visitorBursts, networkBursts: o.networkBursts, bots: o.bots });
const byScale = [{ scale: first, r }, ...more.map((scale) => ({ scale, r: evaluateSite({ seeds, scale, site: o.site }) }))];

const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const pad = (s: string, n: number) => s.padEnd(n);
const ok = (good: boolean) => (good ? 'ok' : 'MISS');
const lines: string[] = [];
lines.push(`anomaly:eval, seeds ${seeds.join(',')} (${Date.now() - started} ms)`);
lines.push('');
for (const { scale, r: s } of byScale) {
  const peak = DEFAULT_PEAK_VISITORS * scale;
  lines.push(`Site level, traffic x${scale} (peak ${peak} visitors, ~${Math.round(peak * DEFAULT_CONVERSION)} purchases per window; 5-minute windows, 2 evaluated weeks per seed after 3 weeks of history; grace 3 windows)`);
  lines.push(`${pad('kind', 20)}${pad('labelled', 10)}${pad('found', 7)}${pad('alerts', 8)}${pad('false', 7)}${pad('P', 7)}${pad('R', 7)}latency p50/p95 (windows)  target P,R>=0.95, p95<=2`);
  for (const k of s.site) {
    lines.push(`${pad(k.kind, 20)}${pad(String(k.labelled), 10)}${pad(String(k.found), 7)}${pad(String(k.tp + k.fp), 8)}${pad(String(k.fp), 7)}${pad(f2(k.precision), 7)}${pad(f2(k.recall), 7)}${pad(`${f2(k.latencyP50)} / ${f2(k.latencyP95)}`, 27)}${ok(k.precision >= 0.95 && k.recall >= 0.95)} ${ok(k.latencyP95 <= 2)}`);
  }
  lines.push('Negative controls (must raise nothing)');
  for (const c of s.controls) lines.push(`${pad(c.kind, 20)}${pad(String(c.labelled), 10)}alerted ${c.alerted}  ${ok(c.alerted === 0)}`);
  lines.push(`False site alerts per simulated day on clean traffic: ${s.siteFalsePerDay.toFixed(3)} (target <= 1) ${ok(s.siteFalsePerDay <= 1)}`);
  lines.push('');
}
lines.push('Click bursts (10-100x for 30-120 s; grace 30 s)');
lines.push(`${pad('kind', 22)}${pad('labelled', 10)}${pad('found', 7)}${pad('alerts', 8)}${pad('false', 7)}${pad('P', 7)}${pad('R', 7)}${pad('entity P/R', 13)}latency p50/p95 (s)  target P,R>=0.95, p95<=10 s`);
for (const k of r.bursts) {
  lines.push(`${pad(k.kind, 22)}${pad(String(k.labelled), 10)}${pad(String(k.found), 7)}${pad(String(k.tp + k.fp), 8)}${pad(String(k.fp), 7)}${pad(f2(k.precision), 7)}${pad(f2(k.recall), 7)}${pad(`${f2(k.entityPrecision)}/${f2(k.entityRecall)}`, 13)}${pad(`${f2(k.latencyP50)} / ${f2(k.latencyP95)}`, 21)}${ok(k.precision >= 0.95 && k.recall >= 0.95)} ${ok(k.latencyP95 <= 10)}`);
}
lines.push(`False burst alerts per simulated day on clean traffic: ${r.burstFalsePerDay.toFixed(2)} (target <= 1) ${ok(r.burstFalsePerDay <= 1)}`);
lines.push('');
lines.push('Bot-like sessions (isolation forest; scripted bots with browser user agents, ~2 % of sessions)');
lines.push(`sessions ${r.bots.sessions}, bots ${r.bots.bots}, flagged ${r.bots.flagged}: P ${f2(r.bots.precision)} R ${f2(r.bots.recall)} ${ok(r.bots.precision >= 0.95 && r.bots.recall >= 0.95)}; latency p95 ${f2(r.bots.latencyP95S)} s after the session's last event (the session gap)`);
lines.push(`Bot/person separation (scores of every session scored; threshold ${o.bots.threshold})`);
lines.push(`${pad('traffic', 28)}${pad('bots scored', 13)}${pad('bot min/p5/p50', 20)}${pad('people', 8)}${pad('people p50/p99/max', 22)}people flagged  bot recall`);
for (const x of botSeparation(seeds, o.bots)) {
  const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '–');
  lines.push(`${pad(x.traffic, 28)}${pad(`${x.botsScored}/${x.bots}`, 13)}${pad(`${f3(x.botMin)}/${f3(x.botP05)}/${f3(x.botMedian)}`, 20)}${pad(String(x.people), 8)}${pad(`${f3(x.peopleMedian)}/${f3(x.peopleP99)}/${f3(x.peopleMax)}`, 22)}${pad(`${(100 * x.falseFlagRate).toFixed(2)} %`, 16)}${f2(x.recall)}`);
}
process.stdout.write(lines.join('\n') + '\n');
