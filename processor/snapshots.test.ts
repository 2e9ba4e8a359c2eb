import { expect, test } from 'vitest';
import { periodStart, projectIndexPatterns, repositoryBody, snapshotName, snapshotsToPrune, SnapshotError, type SnapshotInfo, type SnapshotSettings } from './snapshots.js';
import { parseConfig } from '../contracts/config.js';

const snap = (name: string, startMs: number, state = 'SUCCESS', prefix: string | null = 'cs'): SnapshotInfo => ({ name, startMs, endMs: startMs + 1, state, indices: [], prefix: prefix ?? undefined });

test('snapshot names are lowercase, from the period start, sortable', () => {
  expect(snapshotName('CS', Date.UTC(2026, 10, 22, 10, 7, 5))).toBe('cs-2026.11.22-10.07.05');
  expect(periodStart(Date.UTC(2026, 10, 22, 10, 7, 5), 86_400)).toBe(Date.UTC(2026, 10, 22));
  expect(periodStart(Date.UTC(2026, 10, 22, 10, 7, 5), 3600)).toBe(Date.UTC(2026, 10, 22, 10));
});

test('every index the pipeline writes is in the snapshot', () => {
  expect(projectIndexPatterns('cs').sort()).toEqual(['cs-alerts', 'cs-events-*', 'cs-kpis', 'cs-sessions', 'cs-url-stats']);
});

test('pruning keeps the newest N good snapshots of the prefix and nobody else\'s', () => {
  const all = [snap('a', 1), snap('b', 2), snap('c', 3, 'FAILED'), snap('d', 4), snap('e', 5, 'IN_PROGRESS'), snap('other', 0, 'SUCCESS', null), snap('x', 0, 'SUCCESS', 'cs2')];
  expect(snapshotsToPrune(all, 'cs', 2).sort()).toEqual(['a', 'c']);
  expect(snapshotsToPrune(all, 'cs', 3).sort()).toEqual(['c']);
  expect(snapshotsToPrune(all, 'cs', 0)).toEqual([]);
  // No good snapshot yet: a failed one stays (it may be all there is to look at).
  expect(snapshotsToPrune([snap('f', 1, 'FAILED')], 'cs', 2)).toEqual([]);
  // A failed one older than the newest good one goes even when fewer than N are good.
  expect(snapshotsToPrune([snap('f', 1, 'PARTIAL'), snap('g', 2)], 'cs', 3)).toEqual(['f']);
});

test('repository bodies per ES_SNAPSHOT_TYPE', () => {
  const base: SnapshotSettings = parseConfig({});
  expect(repositoryBody(base)).toEqual({ type: 'fs', settings: { location: 'clickstream', compress: true } });
  expect(() => repositoryBody({ ...base, esSnapshotType: 's3' })).toThrow(SnapshotError);
  expect(repositoryBody({ ...base, esSnapshotType: 's3', esSnapshotS3Bucket: 'b' })).toEqual({
    type: 's3',
    settings: { bucket: 'b', base_path: 'es-snapshots', client: 'default', compress: true },
  });
  expect(repositoryBody({ ...base, esSnapshotType: 'existing' })).toBeUndefined();
  expect(() => repositoryBody({ ...base, esSnapshotType: 'nfs' })).toThrow('ES_SNAPSHOT_TYPE must be fs, s3 or existing');
});
