/**
 * Importing infra/kibana/clickstream.ndjson into Kibana: rewriting it for the configured index
 * prefix and tumbling window, and posting it to the saved-objects import API.
 */
import type { Config } from '../../contracts/config.js';
import { tumbling } from '../../contracts/windows.js';
import { DEFAULT_PREFIX, type SavedObject } from './data-views.js';
import { DEFAULT_INTERVAL, DEFAULT_TUMBLING_KIND } from './saved-objects.js';

export function parseNdjson(text: string): SavedObject[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as SavedObject;
      } catch (err) {
        throw new Error(`line ${i + 1} of the saved objects is not JSON: ${(err as Error).message}`, { cause: err });
      }
    });
}

export interface Customization {
  /** ES_INDEX_PREFIX: data view titles (index patterns) and object ids. */
  indexPrefix: string;
  /** KPI_TUMBLING_S: the window kind KPI panels filter on and their date-histogram interval. */
  tumblingS: number;
}

export const customizationFromConfig = (cfg: Pick<Config, 'esIndexPrefix' | 'kpiTumblingS'>): Customization => ({ indexPrefix: cfg.esIndexPrefix, tumblingS: cfg.kpiTumblingS });

const withPrefix = (s: string, prefix: string) => (s.startsWith(`${DEFAULT_PREFIX}-`) ? `${prefix}-${s.slice(DEFAULT_PREFIX.length + 1)}` : s);

/**
 * The shipped objects as they must be for another index prefix or window size. With the
 * defaults (clickstream, 60 s) nothing changes. Another prefix also changes object ids and the
 * dashboard title, so the dashboards of two pipelines can live in one Kibana space.
 */
export function customize(objects: SavedObject[], c: Customization): SavedObject[] {
  const spec = tumbling(c.tumblingS * 1000);
  const interval = spec.kind.slice('tumbling_'.length); // tumbling_1m -> 1m, tumbling_30s -> 30s
  const samePrefix = c.indexPrefix === DEFAULT_PREFIX;
  if (samePrefix && spec.kind === DEFAULT_TUMBLING_KIND) return objects;
  const kindToken = `window_kind : "${DEFAULT_TUMBLING_KIND}"`;
  return objects.map((o0) => {
    const o = structuredClone(o0);
    if (!samePrefix) {
      o.id = withPrefix(o.id, c.indexPrefix);
      o.references = o.references.map((r) => ({ ...r, id: withPrefix(r.id, c.indexPrefix) }));
    }
    if (o.type === 'index-pattern' && !samePrefix) {
      o.attributes.title = withPrefix(String(o.attributes.title), c.indexPrefix);
      o.attributes.name = `${String(o.attributes.name)} [${c.indexPrefix}]`;
    }
    if (o.type === 'dashboard' && !samePrefix) o.attributes.title = `${String(o.attributes.title)} [${c.indexPrefix}]`;
    if (o.type === 'lens') {
      const state = o.attributes.state as { query: { query: string }; datasourceStates: { formBased: { layers: Record<string, { columns: Record<string, Record<string, unknown>> }> } } };
      state.query.query = state.query.query.replaceAll(kindToken, `window_kind : "${spec.kind}"`);
      for (const layer of Object.values(state.datasourceStates.formBased.layers)) {
        for (const col of Object.values(layer.columns)) {
          const params = col.params as { interval?: string } | undefined;
          if (col.operationType === 'date_histogram' && col.sourceField === 'window_start' && params?.interval === DEFAULT_INTERVAL) params.interval = interval;
        }
      }
    }
    return o;
  });
}

export interface ImportTarget {
  kibanaUrl: string;
  space?: string;
  username?: string;
  password?: string;
  apiKey?: string;
}

export const targetFromConfig = (cfg: Pick<Config, 'kibanaUrl' | 'kibanaSpace' | 'kibanaUsername' | 'kibanaPassword' | 'kibanaApiKey'>): ImportTarget => ({
  kibanaUrl: cfg.kibanaUrl,
  space: cfg.kibanaSpace,
  username: cfg.kibanaUsername,
  password: cfg.kibanaPassword,
  apiKey: cfg.kibanaApiKey,
});

export function importUrl(t: ImportTarget): string {
  const base = t.kibanaUrl.replace(/\/+$/, '');
  const space = t.space ? `/s/${encodeURIComponent(t.space)}` : '';
  return `${base}${space}/api/saved_objects/_import?overwrite=true`;
}

export function authHeader(t: ImportTarget): string | undefined {
  if (t.apiKey) return `ApiKey ${t.apiKey}`;
  if (t.username) return `Basic ${Buffer.from(`${t.username}:${t.password ?? ''}`).toString('base64')}`;
  return undefined;
}

export interface ImportResult {
  success: boolean;
  successCount: number;
  errors?: { id: string; type: string; title?: string; meta?: { title?: string }; error: { type: string; message?: string } }[];
}

/**
 * POSTs the ndjson as the multipart `file` the import API expects, with the kbn-xsrf header
 * Kibana requires of every non-GET API call. Throws on an HTTP error; returns Kibana's answer
 * (which lists objects it could not import, with success false).
 */
export async function importSavedObjects(ndjson: string, t: ImportTarget, fetchImpl: typeof fetch = fetch): Promise<ImportResult> {
  const form = new FormData();
  form.append('file', new Blob([ndjson], { type: 'application/ndjson' }), 'clickstream.ndjson');
  const headers: Record<string, string> = { 'kbn-xsrf': 'true' };
  const auth = authHeader(t);
  if (auth) headers.authorization = auth;
  const res = await fetchImpl(importUrl(t), { method: 'POST', headers, body: form });
  const text = await res.text();
  if (!res.ok) throw new Error(`Kibana answered ${res.status} ${res.statusText}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as ImportResult;
}
