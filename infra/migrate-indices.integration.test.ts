/**
 * `npm run es:migrate` against the real Elasticsearch of the global set-up: KPI and session
 * indices as a version that kept revenue as one number created them, with documents, are brought
 * to revenue per currency; the dashboard's nested aggregation then reads them; a second run changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { afterAll, expect, inject, test } from 'vitest';
import { kpiMappings, indexNames, sessionMappings } from '../contracts/indices.js';
import { revenueAgg, revenueFromAgg, type RevenueAgg } from '../contracts/documents.js';
import { convert, migrateIndices } from './migrate-indices.js';
import { installTemplates } from './setup-indices.js';

const esUrl = inject('esUrl');
const es = new Client({ node: esUrl });
const prefix = `csmig${randomBytes(4).toString('hex')}`;
const n = indexNames(prefix);

afterAll(async () => {
  await es.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
  await es.close();
});

/** A mapping as the older version had it: `revenue` a number, no revenue_by_currency. */
function older(mappings: { properties: object }) {
  const { revenue_by_currency: _new, ...props } = mappings.properties as Record<string, unknown>;
  return { dynamic: 'strict' as const, properties: { ...props, revenue: { type: 'double' } } as never };
}

const kpi = (id: string, o: Record<string, unknown>) => ({
  id,
  doc: { window_kind: 'tumbling_1m', window_start: '2026-11-22T10:00:00.000Z', window_end: '2026-11-22T10:01:00.000Z', dimension: 'all', dimension_value: 'all', partition: 0, page_views: 10, purchases: 0, revenue: 0, final: true, ...o },
});

test('old KPI and session indices are copied into revenue per currency, ids kept; a second run changes nothing', async () => {
  await es.indices.create({ index: n.kpis, mappings: older(kpiMappings) });
  await es.indices.create({ index: n.sessions, mappings: older(sessionMappings) });
  const kpis = [
    kpi('all|p0', { purchases: 2, revenue: 49.5 }),
    kpi('all|p1', { partition: 1, purchases: 1, revenue: 0.1 }),
    kpi('cur|EUR|p0', { dimension: 'currency', dimension_value: 'EUR', purchases: 2, revenue: 49.5 }),
    kpi('none', { partition: 2 }),
  ];
  const sessions = [
    { id: 's1', doc: { session_id: 's1', visitor_id: 'v1', start: '2026-11-22T10:00:00.000Z', end: '2026-11-22T10:05:00.000Z', pages: 3, purchased: true, revenue: 24.5, closed: true, partition: 0 } },
    { id: 's2', doc: { session_id: 's2', visitor_id: 'v2', start: '2026-11-22T10:00:00.000Z', end: '2026-11-22T10:01:00.000Z', pages: 1, purchased: false, revenue: 0, closed: true, partition: 1 } },
  ];
  await es.bulk({ refresh: true, operations: [...kpis.flatMap((k) => [{ index: { _index: n.kpis, _id: k.id } }, k.doc]), ...sessions.flatMap((s) => [{ index: { _index: n.sessions, _id: s.id } }, s.doc])] });
  // Installing this version's templates on them works (it only adds fields) but leaves the old revenue where it was.
  await installTemplates(esUrl, prefix);

  const logs: string[] = [];
  const first = await migrateIndices(es, esUrl, prefix, (m) => logs.push(m));
  expect(first).toEqual([
    { index: n.kpis, state: 'migrated', documents: 4 },
    { index: n.sessions, state: 'migrated', documents: 2 },
  ]);
  expect(logs.join('\n')).toContain(`${n.kpis}: revenue is one number`);

  for (const [index, docs] of [
    [n.kpis, kpis],
    [n.sessions, sessions],
  ] as const) {
    const props = (await es.indices.getMapping({ index }))[index].mappings.properties!;
    expect(props.revenue).toBeUndefined();
    expect(props.revenue_by_currency).toMatchObject({ type: 'nested' });
    const got = await es.search<Record<string, unknown>>({ index, size: 100, query: { match_all: {} } });
    expect(Object.fromEntries(got.hits.hits.map((h) => [h._id, h._source]))).toEqual(Object.fromEntries(docs.map((d) => [d.id, convert(d.doc)])));
  }
  expect(convert(kpis[0].doc).revenue_by_currency).toEqual([{ currency: 'unknown', purchases: 2, revenue: 49.5 }]);
  expect(convert(kpis[2].doc).revenue_by_currency).toEqual([{ currency: 'EUR', purchases: 2, revenue: 49.5 }]);
  expect(convert(kpis[3].doc).revenue_by_currency).toEqual([]);
  expect(convert(sessions[0].doc).revenue_by_currency).toEqual([{ currency: 'unknown', purchases: 1, revenue: 24.5 }]);

  // What the dashboard asks of the KPI index now reads the migrated revenue.
  const agg = await es.search({ index: n.kpis, size: 0, query: { term: { dimension: 'all' } }, aggs: { r: revenueAgg() } });
  expect(revenueFromAgg((agg.aggregations as { r: RevenueAgg }).r)).toEqual([{ currency: 'unknown', purchases: 3, revenue: 49.6 }]);
  // The new index is this version's: a document with revenue as a number is refused now.
  await expect(es.index({ index: n.kpis, document: kpi('x', { revenue: 1 }).doc })).rejects.toThrow(/strict_dynamic_mapping_exception/);
  expect((await es.indices.exists({ index: `${n.kpis}-migrating` }))).toBe(false);

  expect(await migrateIndices(es, esUrl, prefix)).toEqual([
    { index: n.kpis, state: 'current', documents: 4 },
    { index: n.sessions, state: 'current', documents: 2 },
  ]);
});
