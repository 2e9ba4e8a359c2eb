import { expect, test } from 'vitest';
import { expiredEventIndices } from './retention.js';

const now = Date.UTC(2026, 10, 22, 12, 0, 0); // 2026-11-22 12:00 UTC

test.each<[string, string[], number, string[]]>([
  ['keeps today and the last 30 days', ['cs-events-2026.11.22', 'cs-events-2026.10.23'], 30, []],
  ['deletes a day wholly older than 30 days', ['cs-events-2026.10.23', 'cs-events-2026.10.22'], 30, ['cs-events-2026.10.22']],
  ['retention 1 day keeps yesterday', ['cs-events-2026.11.21', 'cs-events-2026.11.20'], 1, ['cs-events-2026.11.20']],
  ['0 keeps everything', ['cs-events-2020.01.01'], 0, []],
  ['other prefixes and indices are never touched', ['other-events-2020.01.01', 'cs-kpis', 'cs-events-2020.01.01-restored', 'cs-events-x'], 30, []],
  ['sorted', ['cs-events-2020.01.02', 'cs-events-2020.01.01'], 30, ['cs-events-2020.01.01', 'cs-events-2020.01.02']],
])('%s', (_name, indices, days, expected) => {
  expect(expiredEventIndices(indices, 'cs', days, now)).toEqual(expected);
});

test('a prefix with regex characters is taken literally', () => {
  expect(expiredEventIndices(['a.b-events-2020.01.01', 'axb-events-2020.01.01'], 'a.b', 30, now)).toEqual(['a.b-events-2020.01.01']);
});
