/**
 * npm run anomaly:score -- --input series.csv [--step SECONDS] [--threshold Z] [--k-of-n 2/3]
 *                          [--counts true|false] [--direction both|up|down] [--min-rise X] [--max-fall X]
 *                          [--skip-bad-rows]
 *
 * Runs the processor's site-level detector (seasonal baseline + Poisson-aware multi-scale score
 * + k-of-n) on any `timestamp,value` CSV and prints `timestamp,value,expected,score,flag` per
 * point, so a user can tune ANOMALY_SITE_* on their own history. Defaults come from the same
 * settings as the processor's. `--input -` reads standard input.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config.js';
import { anomalyOptionsFromConfig } from '../processor/anomaly/options.js';
import { parseSeriesCsv, scoreCsv, scoreDefaults } from '../processor/anomaly/series-csv.js';

const usage = 'usage: npm run anomaly:score -- --input series.csv [--step SECONDS] [--threshold Z] [--k-of-n K/N] [--counts true|false] [--direction both|up|down] [--min-rise X] [--max-fall X] [--skip-bad-rows]';

function fail(message: string): never {
  process.stderr.write(`anomaly:score: ${message}\n${usage}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      input: { type: 'string' },
      step: { type: 'string' },
      threshold: { type: 'string' },
      'k-of-n': { type: 'string' },
      counts: { type: 'string' },
      direction: { type: 'string' },
      'min-rise': { type: 'string' },
      'max-fall': { type: 'string' },
      'skip-bad-rows': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  }).values;
} catch (e) {
  fail((e as Error).message);
}
if (args.help) {
  process.stdout.write(usage + '\n');
  process.exit(0);
}
if (!args.input) fail('--input is required');
const config = loadConfig(args['k-of-n'] ? { anomalySiteKOfN: args['k-of-n'] } : {});
let site;
try {
  site = anomalyOptionsFromConfig(config).site;
} catch (e) {
  fail((e as Error).message);
}
const num = (name: string, raw: string | undefined) => {
  if (raw === undefined) return undefined;
  const x = Number(raw);
  if (!Number.isFinite(x) || x <= 0) fail(`--${name} must be a positive number, got "${raw}"`);
  return x;
};
if (args.counts !== undefined && !/^(true|false)$/.test(args.counts)) fail(`--counts must be true or false, got "${args.counts}"`);
if (args.direction !== undefined && !['both', 'up', 'down'].includes(args.direction)) fail(`--direction must be both, up or down, got "${args.direction}"`);

let text: string;
try {
  text = readFileSync(args.input === '-' ? 0 : args.input, 'utf8');
} catch (e) {
  fail(`cannot read ${args.input}: ${(e as Error).message}`);
}
const parsed = parseSeriesCsv(text);
if (parsed.errors.length && !args['skip-bad-rows']) {
  const shown = parsed.errors.slice(0, 20).map((e) => `  ${args.input}: ${e}`);
  const more = parsed.errors.length > 20 ? [`  ... and ${parsed.errors.length - 20} more`] : [];
  fail([`${parsed.errors.length} row${parsed.errors.length === 1 ? '' : 's'} cannot be read (fix them, or pass --skip-bad-rows to score the others):`, ...shown, ...more].join('\n'));
}
for (const err of parsed.errors) process.stderr.write(`anomaly:score: skipped ${err}\n`);
for (const w of parsed.warnings.slice(0, 5)) process.stderr.write(`anomaly:score: ${w}\n`);
if (parsed.warnings.length > 5) process.stderr.write(`anomaly:score: ... ${parsed.warnings.length - 5} more rows repeat a timestamp\n`);
if (parsed.points.length === 0) fail(`no timestamp,value rows in ${args.input}`);
const step = num('step', args.step);
const defaults = scoreDefaults(site);
process.stdout.write(
  scoreCsv(parsed, {
    ...defaults,
    threshold: num('threshold', args.threshold) ?? defaults.threshold,
    minRise: num('min-rise', args['min-rise']) ?? defaults.minRise,
    maxFall: num('max-fall', args['max-fall']) ?? defaults.maxFall,
    ...(step ? { stepMs: step * 1000 } : {}),
    ...(args.counts ? { counts: args.counts === 'true' } : {}),
    ...(args.direction ? { direction: args.direction as 'both' | 'up' | 'down' } : {}),
  }),
);
