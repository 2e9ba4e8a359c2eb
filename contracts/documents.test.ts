import { describe, expect, test } from 'vitest';
import { ALERT_DELIVERY_FIELDS, ALERT_FIELDS, fieldNames, KPI_FIELDS, KPI_SUM_FIELDS, kpiDocId, SESSION_FIELDS, URL_STATS_FIELDS, URL_SUM_FIELDS } from './documents.js';
import { alertMappings, kpiMappings, sessionMappings, urlStatsMappings } from './indices.js';
import { windowKinds, windowSpecs } from './windows.js';

describe('output documents', () => {
  test('every index mapping has exactly the fields of its document table, strict', () => {
    for (const [fields, mapping] of [
      [KPI_FIELDS, kpiMappings],
      [URL_STATS_FIELDS, urlStatsMappings],
      [SESSION_FIELDS, sessionMappings],
      [{ ...ALERT_FIELDS, ...ALERT_DELIVERY_FIELDS }, alertMappings],
    ] as const) {
      expect(mapping.dynamic).toBe('strict');
      expect(Object.keys(mapping.properties)).toEqual(fieldNames(fields));
    }
    // Revenue per currency (nested): summed per currency, never across currencies.
    for (const m of [kpiMappings, sessionMappings]) {
      expect(m.properties.revenue_by_currency).toEqual({ type: 'nested', properties: { currency: { type: 'keyword' }, purchases: { type: 'long' }, revenue: { type: 'double' } } });
      expect(Object.keys(m.properties)).not.toContain('revenue');
    }
    expect(urlStatsMappings.properties.site_id).toEqual({ type: 'keyword' });
    expect(kpiMappings.properties.page_views).toEqual({ type: 'long' });
    expect(sessionMappings.properties.entry_page).toEqual({ type: 'keyword' });
    expect(alertMappings.properties.message).toEqual({ type: 'text' });
  });

  test('the summed fields are numeric fields of their documents', () => {
    for (const f of KPI_SUM_FIELDS) expect(['long', 'double']).toContain(KPI_FIELDS[f]);
    for (const f of URL_SUM_FIELDS) expect(URL_STATS_FIELDS[f]).toBe('long');
  });

  test('a KPI document id names its window, cut and partition', () => {
    expect(kpiDocId({ window_kind: 'tumbling_1m', window_start: '2026-11-22T10:00:00.000Z', dimension: 'country', dimension_value: 'FR', partition: 2 })).toBe(
      'tumbling_1m|2026-11-22T10:00:00.000Z|country|FR|2',
    );
  });
});

test('window kinds follow the processor settings', () => {
  expect(windowKinds({ kpiTumblingS: 60, kpiSlidingSizeS: 300, kpiSlidingStepS: 60 })).toEqual(['tumbling_1m', 'sliding_5m_1m']);
  expect(windowKinds({ kpiTumblingS: 30, kpiSlidingSizeS: 0, kpiSlidingStepS: 60 })).toEqual(['tumbling_30s']);
  expect(windowKinds({ kpiTumblingS: 60, kpiSlidingSizeS: 60, kpiSlidingStepS: 60 })).toEqual(['tumbling_1m']);
  expect(windowSpecs({ kpiTumblingS: 60, kpiSlidingSizeS: 300, kpiSlidingStepS: 60 })[1]).toEqual({ kind: 'sliding_5m_1m', sizeMs: 300_000, stepMs: 60_000 });
  expect(() => windowSpecs({ kpiTumblingS: 60, kpiSlidingSizeS: 300, kpiSlidingStepS: 70 })).toThrow(/multiple of its step/);
});
