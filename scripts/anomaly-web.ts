/**
 * npm run anomaly:web [-- --seeds 1,2,3]
 *
 * anomaly:score's detector (defaults, in process) on synthetic web-traffic-like series: page views
 * at 1-, 5- and 60-minute steps with a daily and a weekly cycle (weekends 30 % lower), whole days
 * 8 % high or low, a slow growth, Poisson noise alone or with 10 % or 30 % more (log-normal) per
 * point, and three labelled incidents a series (x3, -60 %, x3, each 0.5-3.5 h). Prints per series
 * the incidents found (an alert inside or 3 steps after) and the alerts outside them, then totals:
 * a check of the kinds of series a user brings, beside NAB's real ones (anomaly:nab).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config.js';
import { anomalyOptionsFromConfig } from '../processor/anomaly/options.js';
import { scoreDefaults } from '../processor/anomaly/series-csv.js';
import { looksLikeCounts, scoreSeries } from '../processor/anomaly/series-detector.js';
import { alertTimes } from '../test/harness/labelled-series.js';
import { gauss, poisson, rng } from '../test/harness/anomaly-scenarios.js';

const { values: args } = parseArgs({ options: { seeds: { type: 'string', default: '1,2,3' } } });
const seeds = args.seeds.split(',').map(Number);
const options = scoreDefaults(anomalyOptionsFromConfig(loadConfig({})).site);
const DAY = 86_400_000;
let falseAlerts = 0;
let days = 0;
let labelled = 0;
let found = 0;
for (const stepMin of [1, 5, 60]) {
  for (const extra of [0, 0.1, 0.3]) {
    for (const seed of seeds) {
      const r = rng(seed * 100 + stepMin + extra * 10);
      const step = stepMin * 60_000;
      const span = stepMin === 1 ? 10 : stepMin === 5 ? 21 : 60;
      const peak = stepMin === 1 ? 40 : stepMin === 5 ? 200 : 2400;
      const n = Math.round((span * DAY) / step);
      const t0 = Date.UTC(2025, 2, 3) + Math.floor(r() * 24) * 3_600_000;
      const incidents = [0, 1, 2].map((a) => {
        const start = Math.floor(n * (0.3 + 0.22 * a + 0.1 * r()));
        return { start, end: start + Math.max(2, Math.round(((0.5 + 3 * r()) * 3_600_000) / step)), factor: a === 1 ? 0.4 : 3 };
      });
      let dayLevel = 1;
      let dayIndex = -1;
      const points = Array.from({ length: n }, (_, i) => {
        const t = t0 + i * step;
        const d = Math.floor((t - t0) / DAY);
        if (d !== dayIndex) [dayIndex, dayLevel] = [d, Math.exp(0.08 * gauss(r))];
        const hour = (t / 3_600_000) % 24;
        const weekday = new Date(t).getUTCDay();
        let mean = peak * (0.35 + 0.65 * Math.max(0, Math.sin((Math.PI * (hour - 6)) / 18)) ** 1.5) * (weekday === 0 || weekday === 6 ? 0.7 : 1) * dayLevel * (1 + 0.002 * d);
        for (const x of incidents) if (i >= x.start && i < x.end) mean *= x.factor;
        if (extra > 0) mean *= Math.exp(extra * gauss(r) - (extra * extra) / 2);
        return { t, value: poisson(r, mean) };
      });
      const alerts = alertTimes(scoreSeries(points, options), options.n).map((t) => Math.round((t - t0) / step));
      const inside = (i: number, x: (typeof incidents)[number]) => i >= x.start && i <= x.end + 3;
      const outside = alerts.filter((i) => !incidents.some((x) => inside(i, x))).length;
      const hit = incidents.filter((x) => alerts.some((i) => inside(i, x))).length;
      [falseAlerts, days, labelled, found] = [falseAlerts + outside, days + span, labelled + incidents.length, found + hit];
      process.stdout.write(`${stepMin}-minute steps, noise beyond Poisson ${extra}, seed ${seed}: counts ${looksLikeCounts(points)}, found ${hit}/${incidents.length}, outside ${outside}\n`);
    }
  }
}
process.stdout.write(`total: found ${found}/${labelled} (R ${(found / labelled).toFixed(2)}), alerts outside ${falseAlerts} over ${days} days (${(falseAlerts / days).toFixed(3)} a day)\n`);
