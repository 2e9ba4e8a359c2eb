/**
 * Lens visualizations as Kibana stores them (formBased datasource, Lens 8.9): columns, formula
 * columns with their helper columns, and the object around one layer. KPI and URL documents are
 * per-partition partials, so values are `sum`s and rates formulas of sums (ratioFormula).
 */
import { DATA_VIEWS, obj, type DataViewKey, type SavedObject } from './data-views.js';

export type Column = Record<string, unknown>;
export type Format = { id: string; params?: Record<string, unknown> };
export type Ast = string | number | { type: 'function'; name: string; args: Ast[]; location: { min: number; max: number }; text: string };

export const dateHistogram = (field: string, interval: string): Column => ({
  label: field,
  dataType: 'date',
  operationType: 'date_histogram',
  sourceField: field,
  isBucketed: true,
  scale: 'interval',
  params: { interval, includeEmptyRows: true, dropPartials: false },
});

export const sum = (field: string, label: string, format?: Format): Column => ({
  label,
  customLabel: true,
  dataType: 'number',
  operationType: 'sum',
  sourceField: field,
  isBucketed: false,
  scale: 'ratio',
  params: { emptyAsNull: false, ...(format ? { format } : {}) },
});

export const count = (label: string, filter?: string, format?: Format): Column => ({
  label,
  customLabel: true,
  dataType: 'number',
  operationType: 'count',
  sourceField: '___records___',
  isBucketed: false,
  scale: 'ratio',
  ...(filter ? { filter: { query: filter, language: 'kuery' } } : {}),
  params: { emptyAsNull: false, ...(format ? { format } : {}) },
});

/** Distinct values of `field` (Elasticsearch cardinality: exact up to Kibana's precision, then approximate). */
export const uniqueCount = (field: string, label: string, filter?: string): Column => ({
  label,
  customLabel: true,
  dataType: 'number',
  operationType: 'unique_count',
  sourceField: field,
  isBucketed: false,
  scale: 'ratio',
  ...(filter ? { filter: { query: filter, language: 'kuery' } } : {}),
  params: { emptyAsNull: false },
});

export const terms = (field: string, label: string, size: number, orderBy: string): Column => ({
  label,
  customLabel: true,
  dataType: 'string',
  operationType: 'terms',
  sourceField: field,
  isBucketed: true,
  scale: 'ordinal',
  params: { size, orderBy: { type: 'column', columnId: orderBy }, orderDirection: 'desc', otherBucket: false, missingBucket: false, parentFormat: { id: 'terms' } },
});

/**
 * A Lens formula column `id` with its helper columns, as Lens itself stores one: the parts
 * `${id}X0`, `${id}X1` ... (plain operations), then `${id}X<n>` the math over them, then `id`.
 * `ast` builds the math from the parts' column ids.
 */
export function formula(id: string, label: string, text: string, parts: Column[], ast: (p: string[]) => Ast, format: Format): Record<string, Column> {
  const partIds = parts.map((_, i) => `${id}X${i}`);
  const mathId = `${id}X${parts.length}`;
  const out: Record<string, Column> = {};
  parts.forEach((p, i) => (out[partIds[i]] = { ...p, label: `Part of ${label}`, customLabel: true }));
  out[mathId] = {
    label: `Part of ${label}`,
    customLabel: true,
    dataType: 'number',
    operationType: 'math',
    isBucketed: false,
    scale: 'ratio',
    params: { tinymathAst: ast(partIds) },
    references: partIds,
  };
  out[id] = {
    label,
    customLabel: true,
    dataType: 'number',
    operationType: 'formula',
    isBucketed: false,
    scale: 'ratio',
    params: { formula: text, isFormulaBroken: false, format },
    references: [mathId],
  };
  return out;
}

export const divide = (text: string, a: Ast, b: Ast, min = 0): Ast => ({ type: 'function', name: 'divide', args: [a, b], location: { min, max: min + text.length }, text });

/** Σ num / Σ den, the only way a rate is computed from partials. */
export function ratioFormula(id: string, label: string, numField: string, denField: string, format: Format = { id: 'percent', params: { decimals: 2 } }) {
  const text = `sum(${numField}) / sum(${denField})`;
  return formula(id, label, text, [sum(numField, ''), sum(denField, '')], ([a, b]) => divide(text, a, b), format);
}

export interface Layer {
  id: string;
  dataView: DataViewKey;
  columns: Record<string, Column>;
  /** Bucket columns first, then metrics; helper columns of formulas are appended. */
  order: string[];
}

export function lens(id: string, title: string, description: string, visualizationType: string, layer: Layer, visualization: object, query = ''): SavedObject {
  const columnOrder = [...layer.order, ...Object.keys(layer.columns).filter((c) => !layer.order.includes(c))];
  return obj(
    'lens',
    id,
    {
      title,
      description,
      visualizationType,
      state: {
        datasourceStates: { formBased: { layers: { [layer.id]: { columns: layer.columns, columnOrder, incompleteColumns: {}, sampling: 1 } } } },
        visualization,
        query: { query, language: 'kuery' },
        filters: [],
        internalReferences: [],
        adHocDataViews: {},
      },
    },
    [{ type: 'index-pattern', id: DATA_VIEWS[layer.dataView].id, name: `indexpattern-datasource-layer-${layer.id}` }],
  );
}

export const xy = (layerId: string, seriesType: string, x: string, accessors: string[], extra: Record<string, unknown> = {}) => ({
  legend: { isVisible: true, position: 'bottom', legendSize: 'auto' },
  valueLabels: 'hide',
  fittingFunction: 'None',
  preferredSeriesType: seriesType,
  axisTitlesVisibilitySettings: { x: false, yLeft: false, yRight: false },
  tickLabelsVisibilitySettings: { x: true, yLeft: true, yRight: true },
  gridlinesVisibilitySettings: { x: true, yLeft: true, yRight: true },
  yLeftExtent: { mode: 'full' },
  layers: [{ layerId, layerType: 'data', seriesType, xAccessor: x, accessors, ...extra }],
});

export const metric = (layerId: string, accessor: string) => ({ layerId, layerType: 'data', metricAccessor: accessor });
