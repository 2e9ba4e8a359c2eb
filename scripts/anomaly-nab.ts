/**
 * npm run anomaly:nab -- --dir path/to/NAB [--categories realTraffic,realAdExchange,realKnownCause,realTweets]
 *                        [--grace-steps 3] [--half tune|held-out|both] [anomaly:score's --threshold, --k-of-n, --counts]
 *
 * Runs `anomaly:score` (the same parsing, defaults and detector, in process) over labelled real
 * series the detector was never tuned on: a checkout of the Numenta Anomaly Benchmark
 * (github.com/numenta/NAB; its data/<category>/*.csv and labels/combined_windows.json), or any
 * directory laid out the same way. Prints per series and per category the alerts inside and
 * outside the labelled windows, window-level precision and recall, and false alerts per day. The
 * data is not part of this repository (licence and size): point --dir at your own copy.
 *
 * The series are split into a tuning half and a held-out half by their names (`splitHalves`:
 * per category, by a hash of `category/file.csv`): change the detector looking only at
 * `--half tune`, then report both; totals are printed per half.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config.js';
import { anomalyOptionsFromConfig } from '../processor/anomaly/options.js';
import { parseSeriesCsv, scoreCsv, scoreDefaults } from '../processor/anomaly/series-csv.js';
import { inferStep } from '../processor/anomaly/series-detector.js';
import { pooledFigures, seriesFigures, splitHalves, type Half, type LabelledWindow, type SeriesFigures } from '../test/harness/labelled-series.js';

const usage = 'usage: npm run anomaly:nab -- --dir NAB_CHECKOUT [--categories a,b] [--grace-steps N] [--half tune|held-out|both] [--threshold Z] [--k-of-n K/N] [--counts true|false]';
function fail(message: string): never {
  process.stderr.write(`anomaly:nab: ${message}\n${usage}\n`);
  process.exit(2);
}

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    categories: { type: 'string', default: 'realTraffic,realAdExchange,realKnownCause,realTweets' },
    'grace-steps': { type: 'string', default: '3' },
    half: { type: 'string', default: 'both' },
    threshold: { type: 'string' },
    'k-of-n': { type: 'string' },
    counts: { type: 'string' },
  },
});
if (!args.dir) fail('--dir is required');
const grace = Number(args['grace-steps']);
if (!(grace >= 0)) fail(`--grace-steps must be a number >= 0, got "${args['grace-steps']}"`);
if (!['tune', 'held-out', 'both'].includes(args.half)) fail(`--half must be tune, held-out or both, got "${args.half}"`);
const site = anomalyOptionsFromConfig(loadConfig(args['k-of-n'] ? { anomalySiteKOfN: args['k-of-n'] } : {})).site;
if (args.counts !== undefined && !/^(true|false)$/.test(args.counts)) fail(`--counts must be true or false, got "${args.counts}"`);
const options = { ...scoreDefaults(site), ...(args.threshold ? { threshold: Number(args.threshold) } : {}), ...(args.counts ? { counts: args.counts === 'true' } : {}) };

let labels: Record<string, [string, string][]>;
try {
  labels = JSON.parse(readFileSync(join(args.dir, 'labels', 'combined_windows.json'), 'utf8'));
} catch (e) {
  fail(`cannot read labels/combined_windows.json under ${args.dir}: ${(e as Error).message}`);
}
/** NAB's label times carry no zone; its data's neither: both are read as UTC. */
const labelTime = (s: string) => Date.parse(s.replace(' ', 'T').replace(/(\.\d{3})\d*$/, '$1') + 'Z');

const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const row = (name: string, s: SeriesFigures, extra = '') =>
  `${name.padEnd(52)} ${String(s.points).padStart(6)} ${f2(s.days).padStart(7)} ${`${s.found}/${s.windows}`.padStart(6)} ${String(s.alerts).padStart(6)} ${String(s.inside).padStart(6)} ${String(s.outside).padStart(7)} ${f2(s.precision).padStart(5)} ${f2(s.recall).padStart(5)} ${f2(s.falsePerDay).padStart(8)} ${f2(s.firstPrecision).padStart(5)}${extra}`;
const header = `${'series'.padEnd(52)} ${'points'.padStart(6)} ${'days'.padStart(7)} ${'found'.padStart(6)} ${'alerts'.padStart(6)} ${'inside'.padStart(6)} ${'outside'.padStart(7)} ${'P'.padStart(5)} ${'R'.padStart(5)} ${'false/d'.padStart(8)} ${'P1'.padStart(5)}`;

const started = Date.now();
const categories = args.categories.split(',').map((c) => c.trim()).filter(Boolean);
const filesOf = new Map<string, string[]>();
for (const category of categories) {
  try {
    filesOf.set(category, readdirSync(join(args.dir, 'data', category)).filter((f) => f.endsWith('.csv')).sort());
  } catch (e) {
    fail(`cannot list data/${category}: ${(e as Error).message}`);
  }
}
const halves = splitHalves(categories.flatMap((c) => filesOf.get(c)!.map((f) => `${c}/${f}`)));
const wanted = (key: string) => args.half === 'both' || halves.get(key) === args.half;
const byHalf: Record<Half, SeriesFigures[]> = { tune: [], 'held-out': [] };
const everything: SeriesFigures[] = [];
const lines: string[] = [`anomaly:nab, ${args.dir}, threshold ${options.threshold}, ${options.k}-of-${options.n}, grace ${grace} steps, half ${args.half}`, '', header];
for (const category of categories) {
  const mine: SeriesFigures[] = [];
  for (const file of filesOf.get(category)!) {
    const key = `${category}/${file}`;
    if (!wanted(key)) continue;
    const parsed = parseSeriesCsv(readFileSync(join(args.dir, 'data', category, file), 'utf8'));
    const windows: LabelledWindow[] = (labels[key] ?? []).map(([a, b]) => ({ start: labelTime(a), end: labelTime(b) }));
    const out = scoreCsv(parsed, options).trim().split('\n').slice(1);
    const sorted = [...parsed.points].sort((a, b) => a.t - b.t);
    const scored = out.map((line, i) => ({ t: sorted[i].t, flag: line.endsWith(',1') }));
    const step = inferStep(sorted);
    const s = seriesFigures(scored, windows, { n: options.n, graceMs: grace * step });
    mine.push(s);
    byHalf[halves.get(key)!].push(s);
    const notes = [halves.get(key)!, `step ${Math.round(step / 1000)} s`, ...(parsed.errors.length ? [`${parsed.errors.length} rows unread`] : []), ...(parsed.warnings.length ? [`${parsed.warnings.length} repeated timestamps`] : [])];
    lines.push(row(key, s, `  ${notes.join(', ')}`));
  }
  const pooled = pooledFigures(mine);
  lines.push(row(`= ${category} (${mine.length} series)`, pooled), '');
  everything.push(...mine);
}
for (const half of ['tune', 'held-out'] as const) if (byHalf[half].length) lines.push(row(`= ${half} half (${byHalf[half].length} series)`, pooledFigures(byHalf[half])));
lines.push(row(`= all (${everything.length} series)`, pooledFigures(everything)));
lines.push('', `found: labelled windows with an alert in them or ${grace} steps after; inside/outside: alerts (first flag of an episode); false/d: alerts outside per day of data; P1: found / (found + outside), NAB's convention (the first alert in a window counts, the others in it are ignored) (${Date.now() - started} ms)`);
process.stdout.write(lines.join('\n') + '\n');
