import { expect, test } from 'vitest';
import { refreshThreads, writeThreads } from './elasticsearch.js';

test('refresh threads: two at least (one on 2 cores is what delayed the KPI refreshes), else half the cores up to 10', () => {
  expect([1, 2, 3, 4, 6, 8, 20, 64].map((cores) => refreshThreads(cores))).toEqual([2, 2, 2, 2, 3, 4, 10, 10]);
});

test('write threads: the cores + 1 (Elasticsearch\'s most) unless ES_WRITE_THREADS asks for fewer; more is lowered to that most', () => {
  expect([1, 2, 4, 16].map((cores) => writeThreads(0, cores))).toEqual([2, 3, 5, 17]);
  expect([1, 2, 3, 9].map((wanted) => writeThreads(wanted, 2))).toEqual([1, 2, 3, 3]);
});
