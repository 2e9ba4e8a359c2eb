/**
 * Versioned writes of the analytics documents against the real Elasticsearch of the global
 * set-up: a provisional document that lands after the sealed one (a previous owner's bulk after a
 * rebalance) leaves the sealed one stored, counts as stale and is neither refused nor retried;
 * documents written before versions existed (internal versions) are overwritten.
 */
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { Client } from '@elastic/elasticsearch';
import { esFromConfig } from '../common/es-client.js';
import { docVersion, type OutDoc } from './analytics/engine.js';
import { bulkIndex } from './es-bulk.js';

const esUrl = inject('esUrl');
const index = `cs-es-bulk-${process.pid}-${Date.now()}`;
let es: Client;

beforeAll(() => {
  es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
});
afterAll(async () => {
  await es.indices.delete({ index, ignore_unavailable: true });
  await es.close();
});

const kpi = (id: string, pageViews: number, final: boolean) => ({ index: 'kpis', id, doc: { window_start: '2026-12-02T08:00:00.000Z', page_views: pageViews, final } }) as unknown as OutDoc;
const session = (id: string, events: number, closed: boolean) => ({ index: 'sessions', id, doc: { session_id: id, events, closed } }) as unknown as OutDoc;

async function write(docs: OutDoc[]) {
  let stale = 0;
  const rejected = await bulkIndex(es, docs, (d) => ({ index, id: d.id, version: docVersion(d) }), (d) => d.doc, {
    refresh: true,
    onStale: (n) => (stale += n),
  });
  return { rejected: rejected.map((r) => r.id), stale };
}
const stored = async (id: string) => (await es.get<Record<string, unknown>>({ index, id }))._source;

test('a provisional write after the sealed one keeps the sealed document and counts as stale', async () => {
  expect(await write([kpi('w1', 3, false), session('s1', 2, false)])).toEqual({ rejected: [], stale: 0 });
  // The new owner seals both; provisional values of the open ones replace each other as before.
  expect(await write([kpi('w1', 8, true), session('s1', 5, true), kpi('w2', 1, false)])).toEqual({ rejected: [], stale: 0 });
  expect(await write([kpi('w2', 4, false)])).toEqual({ rejected: [], stale: 0 });
  // The previous owner's bulk lands late: its provisional values are older than what is stored.
  expect(await write([kpi('w1', 7, false), session('s1', 4, false), kpi('w2', 2, false)])).toEqual({ rejected: [], stale: 2 });
  expect(await stored('w1')).toMatchObject({ page_views: 8, final: true });
  expect(await stored('s1')).toMatchObject({ events: 5, closed: true });
  expect(await stored('w2')).toMatchObject({ page_views: 2, final: false });
  // A replay writes the sealed documents again: equal versions overwrite.
  expect(await write([kpi('w1', 8, true)])).toEqual({ rejected: [], stale: 0 });
  expect((await es.get({ index, id: 'w1' }))._version).toBe(docVersion(kpi('w1', 8, true)));
});

test('documents written without versions (before this change) are overwritten, however often they were written', async () => {
  for (let i = 1; i <= 5; i++) await es.index({ index, id: 'old', document: { page_views: i, final: i === 5 }, refresh: true });
  expect((await es.get({ index, id: 'old' }))._version).toBe(5);
  expect(await write([kpi('old', 6, false)])).toEqual({ rejected: [], stale: 0 });
  expect(await stored('old')).toMatchObject({ page_views: 6, final: false });
  expect(await write([kpi('old', 9, true)])).toEqual({ rejected: [], stale: 0 });
  expect(await stored('old')).toMatchObject({ page_views: 9, final: true });
});
