import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSeriesCsv, parseTimestamp, scoreCsv } from './series-csv.js';
import { anomalyOptionsFromConfig, parseSpans, AnomalyConfigError } from './options.js';
import { parseConfig } from '../../contracts/config.js';

describe('anomaly:score CSV', () => {
  it.each([
    ['ISO timestamps with a header', 'timestamp,value\n2026-01-05T00:00:00Z,3\n2026-01-05T01:00:00Z,4\n', [Date.UTC(2026, 0, 5), Date.UTC(2026, 0, 5, 1)], []],
    ['epoch seconds', '1767571200,3\n', [1767571200000], []],
    ['epoch milliseconds, quoted', '"1767571200000","3.5"\n', [1767571200000], []],
    ['bad rows are reported and skipped, the rest kept', 't,v\nyesterday,3\n2026-01-05T00:00:00Z,x\n2026-01-05T00:00:00Z,1\nlonely\n', [Date.UTC(2026, 0, 5)], ['line 2', 'line 3', 'line 5']],
  ])('%s', (_n, text, times, errorLines) => {
    const p = parseSeriesCsv(text);
    expect(p.points.map((x) => x.t)).toEqual(times);
    expect(p.errors.map((e) => e.split(':')[0])).toEqual(errorLines);
  });

  const at = Date.UTC(2015, 1, 26, 21, 42, 53);
  it.each([
    ['2015-02-26 21:42:53', at],
    ['2015-02-26T21:42:53Z', at],
    ['2015-02-26T21:42:53.250Z', at + 250],
    ['2015-02-26T22:42:53+01:00', at],
    ['2015-02-26 22:42:53+0100', at],
    ['2015-02-26T16:12:53-05:30', at],
    ['2015-02-26 21:42:53 UTC', at],
    ['2015-02-26', Date.UTC(2015, 1, 26)],
    ['1424986973', at],
    ['1424986973.25', at + 250],
    ['1424986973000', at],
    ['1424986973000000', at],
    ['1424986973000000000', at],
  ])('reads the timestamp %s', (cell, t) => expect(parseTimestamp(cell)).toBe(t));

  it.each(['2015-02-30 00:00:00', '2015-02-26 24:00:00', '2015-02-26 21:60:00', '26/02/2015 21:42', 'Feb 26 2015', '2015-02-26T21:42:53+25:00', 'yesterday', ''])(
    '%s is no timestamp',
    (cell) => expect(parseTimestamp(cell)).toBeNaN(),
  );

  describe('in another time zone', () => {
    const tz = process.env.TZ;
    afterEach(() => {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    });
    it('a zone-less time is UTC, also the hour a daylight-saving change skips in the machine zone', () => {
      process.env.TZ = 'America/New_York';
      expect(parseTimestamp('2014-03-09 02:30:00')).toBe(Date.UTC(2014, 2, 9, 2, 30));
      expect(parseSeriesCsv('2014-03-09 01:30:00,1\n2014-03-09 02:30:00,2\n').points.map((p) => p.t)).toEqual([Date.UTC(2014, 2, 9, 1, 30), Date.UTC(2014, 2, 9, 2, 30)]);
    });
  });

  it.each([
    ['a byte-order mark, CRLF, comments and blank lines', '\uFEFFtimestamp,value\r\n# exported\r\n\r\n2026-01-05T00:00:00Z,3\r\n\r\n2026-01-05T01:00:00Z,4\r\n'],
    ['tab separated', 'time\tvisits\n2026-01-05T00:00:00Z\t3\n2026-01-05T01:00:00Z\t4\n'],
    ['semicolon separated, quoted', '"time";"visits"\n"2026-01-05 00:00:00";"3"\n"2026-01-05 01:00:00";"4"\n'],
    ['a trailing delimiter', 'ts,v,\n2026-01-05T00:00:00Z,3,\n2026-01-05T01:00:00Z,4,\n'],
    ['no header, epoch milliseconds', '1767571200000,3\n1767574800000,4\n'],
  ])('reads %s', (_n, text) => {
    const p = parseSeriesCsv(text);
    expect(p.errors).toEqual([]);
    expect(p.points.map((x) => [x.t, x.value])).toEqual([
      [Date.UTC(2026, 0, 5), 3],
      [Date.UTC(2026, 0, 5, 1), 4],
    ]);
  });

  it.each([
    ['an unquoted thousands separator', 'ts,v\n2026-01-05T00:00:00Z,1,234\n', 'line 2: 3 cells'],
    ['a quoted one', 'ts,v\n2026-01-05T00:00:00Z,"1,234"\n', 'line 2: "1,234" is not a number'],
    ['a missing value', 'ts,v\n2026-01-05T00:00:00Z,3\n2026-01-05T01:00:00Z,\n', 'line 3: no value'],
    ['NaN', 'ts,v\n2026-01-05T00:00:00Z,NaN\n', 'line 2: "NaN" is not a number'],
    ['a day-first date', 'ts,v\n05/01/2026 10:00,3\n', 'line 2: "05/01/2026 10:00" is not a timestamp'],
    ['a header of three columns', 'ts,v,label\n2026-01-05T00:00:00Z,3\n', 'line 1: header has 3 columns'],
    ['a lone first cell', 'visits\n2026-01-05T00:00:00Z,3\n', 'line 1: 1 cell'],
    ['a second header further down', 'ts,v\n2026-01-05T00:00:00Z,3\nts,v\n', 'line 3: "ts" is not a timestamp'],
  ])('%s is an error naming its line', (_n, text, message) => {
    expect(parseSeriesCsv(text).errors.join('\n')).toContain(message);
  });

  it('keeps a repeated timestamp, both values in file order, with a warning naming the line', () => {
    const p = parseSeriesCsv('ts,v\n2014-03-09 03:00:00,44.6\n2014-03-09 03:00:00,43.5\n2014-03-09 03:05:00,47\n');
    expect(p.errors).toEqual([]);
    expect(p.points.map((x) => x.value)).toEqual([44.6, 43.5, 47]);
    expect(p.warnings).toEqual(['line 3: timestamp "2014-03-09 03:00:00" repeats line 2; both are scored, in file order']);
    expect(scoreCsv(p).trim().split('\n').slice(1).map((l) => l.split(',')[1])).toEqual(['44.6', '43.5', '47']);
  });

  it('prints timestamp,value,expected,score,flag per point, sorted by time, flagging a spike', () => {
    const rows = Array.from({ length: 24 * 9 }, (_, i) => `${1767571200 + i * 3600},${i === 24 * 8 + 12 || i === 24 * 8 + 13 ? 400 : 100}`);
    const out = scoreCsv(parseSeriesCsv(['ts,value', ...rows.reverse()].join('\n')), { threshold: 5.5 }).trim().split('\n');
    expect(out[0]).toBe('timestamp,value,expected,score,flag');
    expect(out).toHaveLength(24 * 9 + 1);
    expect(out[1]).toBe('1767571200,100,,0,0');
    const flagged = out.slice(1).filter((l) => l.endsWith(',1'));
    // Two spikes in a flat series: a measurement (far noisier than Poisson), flagged from its first point, far beyond its tails.
    expect(flagged.map((l) => Number(l.split(',')[0]))).toEqual([1767571200 + (24 * 8 + 12) * 3600, 1767571200 + (24 * 8 + 13) * 3600]);
    expect(flagged[1]).toMatch(new RegExp(`^${1767571200 + (24 * 8 + 13) * 3600},400,100,\\d`));
  });
});

describe('npm run anomaly:score', () => {
  const script = fileURLToPath(new URL('../../scripts/anomaly-score.ts', import.meta.url));
  const run = (input: string, ...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', script, '--input', '-', ...args], { input, encoding: 'utf8' });
  const text = ['timestamp,value', ...Array.from({ length: 30 }, (_, i) => `${1767571200 + i * 3600},${i === 7 ? 'n/a' : 100 + (i % 3)}`)].join('\n');

  it('stops on a row it cannot read, naming the line, and prints nothing', () => {
    const r = run(text);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('1 row cannot be read');
    expect(r.stderr).toContain('-: line 9: "n/a" is not a number');
  });

  it('with --skip-bad-rows scores the others and names the one it skipped', () => {
    const r = run(text, '--skip-bad-rows');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(30);
    expect(r.stderr).toContain('skipped line 9: "n/a" is not a number');
  });
});

describe('anomaly settings', () => {
  it('defaults parse', () => {
    const o = anomalyOptionsFromConfig(parseConfig({}));
    expect(o.visitorBursts.spans).toEqual([
      { spanMs: 10_000, floor: 8 },
      { spanMs: 60_000, floor: 25 },
    ]);
    expect(o.site).toMatchObject({ k: 2, n: 3, stepMs: 300_000, trafficThreshold: 5.5 });
    expect(o.networkBursts.selfFactor).toBe(5);
  });
  it.each([
    ['ANOMALY_BURST_SPANS', { ANOMALY_BURST_SPANS: '10-8' }, /SECONDS:MIN_CLICKS/],
    ['ANOMALY_BURST_K', { ANOMALY_BURST_K: 'lots' }, /ANOMALY_BURST_K must be a number/],
    ['ANOMALY_SITE_K_OF_N', { ANOMALY_SITE_K_OF_N: '4/3' }, /K\/N/],
    ['ANOMALY_BOT_THRESHOLD', { ANOMALY_BOT_THRESHOLD: '2' }, /from 0 to 1/],
  ])('a bad %s is a clear error', (_n, env, message) => {
    expect(() => anomalyOptionsFromConfig(parseConfig(env))).toThrow(message);
    expect(() => anomalyOptionsFromConfig(parseConfig(env))).toThrow(AnomalyConfigError);
  });
  it('spans need a floor', () => expect(() => parseSpans('X', '10:0')).toThrow(/at least 1/));
});
