/**
 * infra/kibana/clickstream.ndjson, read as Kibana will read it: every line an object, every
 * reference resolvable, and every field a data view, Lens column, KQL query, saved search or
 * field format names exists in the contract mappings (contracts/indices.ts) with a type the
 * operation works on. So a mapping change breaks this test, not the dashboard. Plus the rules of
 * the partial documents: sums only, rates as ratios of sums, one window kind and the `all` cut.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { indexTemplates } from '../../contracts/indices.js';
import type { SavedObject } from './data-views.js';
import { KIBANA_NDJSON, renderNdjson } from './saved-objects.js';
import { parseNdjson } from './import.js';

const text = readFileSync(KIBANA_NDJSON, 'utf8');
const objects = parseNdjson(text);
const byKey = new Map(objects.map((o) => [`${o.type}:${o.id}`, o]));

type Mapping = { properties: Record<string, MappingField> };
type MappingField = { type?: string; fields?: Record<string, MappingField>; properties?: Record<string, MappingField>; enabled?: boolean };

/** Flattened field -> type of a mapping (multi-fields as `name.sub`, disabled objects left out). */
function fieldTypes(m: Mapping): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (props: Record<string, MappingField>, path: string) => {
    for (const [name, f] of Object.entries(props)) {
      const full = path + name;
      if (f.properties) walk(f.properties, `${full}.`);
      if (f.type === 'object' || f.enabled === false) continue;
      if (f.type) out.set(full, f.type);
      for (const [sub, sf] of Object.entries(f.fields ?? {})) if (sf.type) out.set(`${full}.${sub}`, sf.type);
    }
  };
  walk(m.properties, '');
  return out;
}

const glob = (pattern: string) => new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('.*')}$`);
const templates = Object.values(indexTemplates('clickstream')) as { index_patterns: string[]; mappings: Mapping }[];

/** The mapping behind a data view title: the template whose pattern is the title or matches it. */
function mappingFor(title: string): Map<string, string> {
  const t = templates.find((x) => x.index_patterns.some((p) => p === title || glob(p).test(title)));
  if (!t) throw new Error(`no index template of contracts/indices.ts covers the data view "${title}"`);
  return fieldTypes(t.mappings);
}

const dataViews = objects.filter((o) => o.type === 'index-pattern');
const fieldsOfView = new Map(dataViews.map((v) => [v.id, mappingFor(String(v.attributes.title))]));
const lensObjects = objects.filter((o) => o.type === 'lens');
const searches = objects.filter((o) => o.type === 'search');
const dashboards = objects.filter((o) => o.type === 'dashboard');

const NUMERIC = ['long', 'integer', 'short', 'byte', 'double', 'float', 'half_float', 'scaled_float', 'unsigned_long'];
/** Which mapping types each Lens operation can read. */
const OPERATION_TYPES: Record<string, string[]> = {
  sum: NUMERIC,
  average: NUMERIC,
  median: NUMERIC,
  min: [...NUMERIC, 'date'],
  max: [...NUMERIC, 'date'],
  standard_deviation: NUMERIC,
  percentile: NUMERIC,
  unique_count: [...NUMERIC, 'keyword', 'date', 'boolean', 'ip'],
  terms: [...NUMERIC, 'keyword', 'boolean', 'ip'],
  date_histogram: ['date', 'date_nanos'],
  range: NUMERIC,
  last_value: [...NUMERIC, 'keyword', 'date', 'boolean', 'ip', 'geo_point'],
};

/** Field names in a KQL query (`field : value`, `field >= value`, `not field : value`). */
function kqlFields(q: string): string[] {
  return [...q.matchAll(/([A-Za-z_][\w.]*)\s*(?::|<=|>=|<|>)/g)].map((m) => m[1]);
}

type Col = { operationType: string; sourceField?: string; isBucketed?: boolean; filter?: { query: string }; params?: Record<string, unknown>; references?: string[] };
type LensState = {
  datasourceStates: { formBased: { layers: Record<string, { columns: Record<string, Col>; columnOrder: string[] }> } };
  visualization: Record<string, unknown>;
  query: { query: string; language: string };
};

function layersOf(o: SavedObject) {
  const state = o.attributes.state as LensState;
  return Object.entries(state.datasourceStates.formBased.layers).map(([layerId, layer]) => {
    const ref = o.references.find((r) => r.name === `indexpattern-datasource-layer-${layerId}`);
    return { layerId, layer, ref, state };
  });
}

describe('the ndjson file', () => {
  test('is what infra/kibana/saved-objects.ts generates (npm run kibana:build)', () => {
    expect(text).toBe(renderNdjson());
  });

  test('every line is a saved object of a known type, ids unique, with migration versions', () => {
    expect(text.endsWith('\n')).toBe(true);
    expect(byKey.size).toBe(objects.length);
    for (const o of objects) {
      expect(['index-pattern', 'lens', 'search', 'dashboard'], o.id).toContain(o.type);
      expect(o.coreMigrationVersion, o.id).toMatch(/^8\.\d+\.\d+$/);
      expect(o.typeMigrationVersion, o.id).toMatch(/^8\.\d+\.\d+$/);
      expect(typeof o.attributes.title, o.id).toBe('string');
    }
    expect(dataViews.map((v) => v.attributes.title).sort()).toEqual(['clickstream-alerts', 'clickstream-events-*', 'clickstream-kpis', 'clickstream-sessions', 'clickstream-url-stats']);
    expect(dashboards).toHaveLength(1);
  });

  test('every reference points at an object in the file', () => {
    for (const o of objects) for (const r of o.references) expect(byKey.has(`${r.type}:${r.id}`), `${o.id} -> ${r.type}:${r.id}`).toBe(true);
  });
});

describe('data views', () => {
  test.each(dataViews.map((v) => [v.attributes.title as string, v] as const))('%s: time field and formatted fields exist with the right types', (_title, v) => {
    const fields = fieldsOfView.get(v.id)!;
    expect(fields.get(String(v.attributes.timeFieldName)), 'time field').toBe('date');
    for (const [field, format] of Object.entries(JSON.parse(String(v.attributes.fieldFormatMap)) as Record<string, { id: string }>)) {
      expect(fields.has(field), `${field} in fieldFormatMap`).toBe(true);
      if (['number', 'percent', 'duration', 'bytes'].includes(format.id)) expect(NUMERIC, field).toContain(fields.get(field));
    }
  });

  test('time fields: KPIs and URL stats by window start, sessions by start, events by event time, alerts by raise time', () => {
    expect(Object.fromEntries(dataViews.map((v) => [v.attributes.title, v.attributes.timeFieldName]))).toEqual({
      'clickstream-events-*': 'timestamp',
      'clickstream-kpis': 'window_start',
      'clickstream-url-stats': 'window_start',
      'clickstream-sessions': 'start',
      'clickstream-alerts': 'raised_at',
    });
  });
});

describe('Lens visualizations', () => {
  test.each(lensObjects.map((o) => [o.id, o] as const))('%s: columns, formulas and queries name mapped fields of compatible types', (_id, o) => {
    for (const { layerId, layer, ref, state } of layersOf(o)) {
      expect(ref, `reference of layer ${layerId}`).toBeDefined();
      const fields = fieldsOfView.get(ref!.id)!;
      expect(fields, `data view ${ref!.id}`).toBeDefined();
      expect([...layer.columnOrder].sort()).toEqual(Object.keys(layer.columns).sort());
      for (const [colId, col] of Object.entries(layer.columns)) {
        const where = `${o.id} ${colId} (${col.operationType})`;
        if (col.sourceField && col.sourceField !== '___records___') {
          expect(fields.has(col.sourceField), `${where}: ${col.sourceField} is not in the mapping`).toBe(true);
          const allowed = OPERATION_TYPES[col.operationType];
          expect(allowed, `${where}: unknown operation`).toBeDefined();
          expect(allowed, `${where}: ${col.sourceField} is ${fields.get(col.sourceField)}`).toContain(fields.get(col.sourceField));
        }
        for (const f of kqlFields(col.filter?.query ?? '')) expect(fields.has(f), `${where}: filter field ${f}`).toBe(true);
        for (const r of col.references ?? []) expect(layer.columns[r], `${where}: references ${r}`).toBeDefined();
        if (col.operationType === 'formula') {
          // The formula text and its helper columns name the same fields.
          const named = [...String(col.params?.formula).matchAll(/\b(?:sum|average|min|max|median|unique_count|last_value)\(([\w.]+)/g)].map((m) => m[1]).sort();
          const helpers = Object.entries(layer.columns)
            .filter(([id, c]) => id.startsWith(`${colId}X`) && c.sourceField && c.sourceField !== '___records___')
            .map(([, c]) => c.sourceField!)
            .sort();
          expect(helpers, `${where}: helper columns`).toEqual(named);
        }
        if (col.operationType === 'terms') {
          const orderBy = (col.params?.orderBy as { type: string; columnId?: string }) ?? { type: 'alphabetical' };
          if (orderBy.type === 'column') expect(layer.columns[orderBy.columnId!], `${where}: orders by ${orderBy.columnId}`).toBeDefined();
        }
      }
      expect(state.query.language).toBe('kuery');
      for (const f of kqlFields(state.query.query)) expect(fields.has(f), `${o.id}: query field ${f}`).toBe(true);
      // Every accessor the visualization draws is a column of the layer.
      const vis = JSON.stringify(state.visualization);
      for (const m of vis.matchAll(/"(?:xAccessor|splitAccessor|metricAccessor|columnId|accessors)":(\[[^\]]*\]|"[^"]*")/g)) {
        const ids = JSON.parse(m[1]) as string | string[];
        for (const id of Array.isArray(ids) ? ids : [ids]) expect(layer.columns[id], `${o.id}: visualization draws ${id}`).toBeDefined();
      }
    }
  });

  const partialViews = new Set(dataViews.filter((v) => ['clickstream-kpis', 'clickstream-url-stats'].includes(String(v.attributes.title))).map((v) => v.id));
  const onPartials = lensObjects.flatMap((o) => layersOf(o).filter((l) => partialViews.has(l.ref!.id)).map((l) => ({ o, ...l })));

  test('per-partition partials are only ever summed; stored per-partition rates and averages are never read', () => {
    expect(onPartials.length).toBeGreaterThan(0);
    for (const { o, layer } of onPartials) {
      for (const [id, col] of Object.entries(layer.columns)) {
        if (!col.sourceField || col.isBucketed) continue;
        expect(['sum'], `${o.id} ${id}`).toContain(col.operationType);
        expect(['conversion_rate', 'cart_to_purchase_rate', 'avg_time_spent_ms'], `${o.id} ${id}`).not.toContain(col.sourceField);
      }
    }
  });

  test('rates are formulas of sums: Σ numerator / Σ denominator', () => {
    const formulas = onPartials.flatMap(({ layer }) => Object.values(layer.columns).filter((c) => c.operationType === 'formula').map((c) => String(c.params?.formula)));
    expect(formulas).toEqual(
      expect.arrayContaining([
        'sum(visitors_purchased) / sum(unique_visitors)',
        'sum(visitors_carted_and_purchased) / sum(visitors_added_to_cart)',
        'sum(time_spent_ms) / sum(time_spent_samples) / 1000',
      ]),
    );
  });

  test('KPI panels read one window kind and the `all` dimension only (or every event would count several times)', () => {
    const kpiView = dataViews.find((v) => v.attributes.title === 'clickstream-kpis')!.id;
    const kpiPanels = onPartials.filter((l) => l.ref!.id === kpiView);
    expect(kpiPanels.length).toBeGreaterThan(5);
    for (const { o, state } of kpiPanels) expect(state.query.query, o.id).toBe('window_kind : "tumbling_1m" and dimension : "all"');
  });
});

describe('saved searches', () => {
  test.each(searches.map((s) => [s.id, s] as const))('%s: columns and sort fields exist', (_id, s) => {
    const src = JSON.parse((s.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON) as { indexRefName: string; query: { query: string } };
    const ref = s.references.find((r) => r.name === src.indexRefName);
    expect(ref).toBeDefined();
    const fields = fieldsOfView.get(ref!.id)!;
    for (const c of s.attributes.columns as string[]) expect(fields.has(c), `${s.id} column ${c}`).toBe(true);
    for (const [f] of s.attributes.sort as [string, string][]) expect(fields.has(f), `${s.id} sort ${f}`).toBe(true);
    for (const f of kqlFields(src.query.query)) expect(fields.has(f), `${s.id} query ${f}`).toBe(true);
  });
});

describe('the dashboard', () => {
  const d = dashboards[0];
  const panels = JSON.parse(String(d.attributes.panelsJSON)) as { type: string; panelIndex: string; panelRefName: string; gridData: { x: number; y: number; w: number; h: number; i: string } }[];

  test('every panel has its reference, of its type', () => {
    for (const p of panels) {
      const ref = d.references.find((r) => r.name === `${p.panelIndex}:${p.panelRefName}`);
      expect(ref, p.panelIndex).toBeDefined();
      expect(ref!.type).toBe(p.type);
      expect(p.gridData.i).toBe(p.panelIndex);
    }
    expect(new Set(panels.map((p) => p.panelIndex)).size).toBe(panels.length);
  });

  test('panels fit the 48-column grid without overlapping', () => {
    const cells = new Set<string>();
    for (const { gridData: g } of panels) {
      expect(g.x + g.w, g.i).toBeLessThanOrEqual(48);
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${g.i} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
    }
  });

  test('shows every visualization and saved search of the file, and refreshes itself', () => {
    expect(d.references.map((r) => r.id).sort()).toEqual([...lensObjects, ...searches].map((o) => o.id).sort());
    expect(d.attributes).toMatchObject({ timeRestore: true, refreshInterval: { pause: false } });
  });
});
