import { expect, test } from 'vitest';
import { refreshThreads } from './elasticsearch.js';

test('refresh threads: two at least (one on 2 cores is what delayed the KPI refreshes), else half the cores up to 10', () => {
  expect([1, 2, 3, 4, 6, 8, 20, 64].map((cores) => refreshThreads(cores))).toEqual([2, 2, 2, 2, 3, 4, 10, 10]);
});
