/**
 * /api/kpis against the real Elasticsearch of the global set-up: the KPI windows that may still
 * change are read by id in real time, so a write Elasticsearch acknowledged is shown before the
 * index's next refresh (here none: refresh_interval -1), while older windows come from the search.
 */
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Client } from '@elastic/elasticsearch';
import { buildDashboard } from '../../dashboard/app.js';
import { esFromConfig } from '../../common/es-client.js';
import { kpiDocId, type KpiDoc } from '../../contracts/documents.js';
import { indexNames } from '../../contracts/indices.js';
import { installTemplates } from '../../infra/setup-indices.js';
import { kpiDoc } from './dashboard-fixtures.js';
import { unique } from './helpers.js';

const esUrl = inject('esUrl');
const MIN = 60_000;
// The dashboard's clock: 30 s into the window W; W - 1 min may still change (lateness 60 s), W - 3 min may not.
const W = Date.UTC(2026, 11, 3, 12, 0, 0);
const NOW = W + 30_000;

let es: Client;
let app: FastifyInstance;
let kpis: string;

const put = (doc: KpiDoc) => es.index({ index: kpis, id: kpiDocId(doc), document: doc, refresh: false });
const search = async (start: number, dimension = 'all') => {
  const r = await es.search<KpiDoc>({ index: kpis, size: 100, query: { bool: { filter: [{ term: { window_start: start } }, { term: { dimension } }] } } });
  return r.hits.hits.map((h) => h._source!.page_views).sort((a, b) => a - b);
};

beforeAll(async () => {
  const prefix = unique('dashlive').toLowerCase();
  kpis = indexNames(prefix).kpis;
  await installTemplates(esUrl, prefix);
  es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
  // Refreshed once: what a search sees.
  await put(kpiDoc('tumbling_1m', W - 3 * MIN, MIN, 0, { page_views: 30, unique_visitors: 3 }));
  await put(kpiDoc('tumbling_1m', W - MIN, MIN, 0, { page_views: 10, unique_visitors: 5 }, { final: false }));
  await es.indices.refresh({ index: kpis });
  await es.indices.putSettings({ index: kpis, settings: { index: { refresh_interval: -1 } } });
  // Acknowledged, never refreshed: partition 0 of W - 1 min updated, partition 4 of it new, the window W new, an old window changed.
  await put(kpiDoc('tumbling_1m', W - MIN, MIN, 0, { page_views: 12, unique_visitors: 6, visitors_purchased: 3 }, { final: false }));
  await put(kpiDoc('tumbling_1m', W - MIN, MIN, 4, { page_views: 1, unique_visitors: 1 }, { final: false }));
  await put(kpiDoc('tumbling_1m', W, MIN, 2, { page_views: 7, unique_visitors: 2 }, { final: false }));
  await put(kpiDoc('tumbling_1m', W, MIN, 2, { page_views: 8, unique_visitors: 2 }, { final: false, dimension: 'site', value: 'shop' }));
  await put(kpiDoc('tumbling_1m', W - 3 * MIN, MIN, 0, { page_views: 31, unique_visitors: 3 }));
  app = await buildDashboard({ config: { esUrl, esIndexPrefix: prefix, logLevel: 'warn', topicPartitions: 6, kpiAllowedLatenessS: 60 }, logger: pino({ level: 'warn' }), es, now: () => NOW });
});
afterAll(async () => {
  await app?.close();
  await es?.indices.delete({ index: kpis, ignore_unavailable: true }).catch(() => {});
  await es?.close();
});

test('the open windows show writes not yet refreshed; a closed window shows what the search sees', async () => {
  // The premise: a search does not see the unrefreshed writes.
  expect(await search(W - MIN)).toEqual([10]);
  expect(await search(W)).toEqual([]);
  const r = await app.inject(`/api/kpis?from=${W - 10 * MIN}&to=${W + MIN}`);
  expect(r.statusCode).toBe(200);
  const body = r.json() as { windows: { window_start: string; page_views: number; partitions: number; conversion_rate: number | null; final: boolean }[]; realtime_windows: number; totals: { page_views: number } };
  expect(body.windows.map((w) => [w.window_start, w.page_views, w.partitions])).toEqual([
    [new Date(W - 3 * MIN).toISOString(), 30, 1],
    [new Date(W - MIN).toISOString(), 13, 2],
    [new Date(W).toISOString(), 7, 1],
  ]);
  expect(body.windows[1]).toMatchObject({ conversion_rate: 3 / 7, final: false });
  expect(body.realtime_windows).toBe(2);
  expect(body.totals.page_views).toBe(50);
});

test('a cut reads its own documents; a range ending before the open windows reads none', async () => {
  const site = (await app.inject(`/api/kpis?from=${W - 10 * MIN}&to=${W + MIN}&dimension=site&value=shop`)).json() as { windows: { page_views: number }[]; realtime_windows: number };
  expect(site).toMatchObject({ windows: [{ page_views: 8 }], realtime_windows: 1 });
  const past = (await app.inject(`/api/kpis?from=${W - 10 * MIN}&to=${W - MIN}`)).json() as { windows: { page_views: number }[]; realtime_windows: number };
  expect(past).toMatchObject({ windows: [{ page_views: 30 }], realtime_windows: 0 });
});

test('a prefix whose KPI index does not exist yet answers empty', async () => {
  const none = await buildDashboard({ config: { esUrl, esIndexPrefix: unique('nolive').toLowerCase(), logLevel: 'warn' }, logger: pino({ level: 'warn' }), es, now: () => NOW });
  try {
    const r = await none.inject('/api/kpis');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ windows: [], realtime_windows: 0 });
  } finally {
    await none.close();
  }
});
