import { describe, expect, it } from 'vitest';
import { parseSeriesCsv, scoreCsv } from './series-csv.js';
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

  it('prints timestamp,value,expected,score,flag per point, sorted by time, flagging a spike', () => {
    const rows = Array.from({ length: 24 * 9 }, (_, i) => `${1767571200 + i * 3600},${i === 24 * 8 + 12 || i === 24 * 8 + 13 ? 400 : 100}`);
    const out = scoreCsv(parseSeriesCsv(['ts,value', ...rows.reverse()].join('\n')), { threshold: 5.5 }).trim().split('\n');
    expect(out[0]).toBe('timestamp,value,expected,score,flag');
    expect(out).toHaveLength(24 * 9 + 1);
    expect(out[1]).toBe('1767571200,100,,0,0');
    const flagged = out.slice(1).filter((l) => l.endsWith(',1'));
    expect(flagged).toHaveLength(1);
    expect(flagged[0]).toMatch(new RegExp(`^${1767571200 + (24 * 8 + 13) * 3600},400,100,\\d`));
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
