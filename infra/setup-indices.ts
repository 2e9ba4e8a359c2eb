import type { Client } from '@elastic/elasticsearch';
import { esFromConfig } from '../common/es-client.js';
import { loadConfig } from '../common/config.js';
import { indexNames, indexTemplates, kpiIndexSettings } from '../contracts/indices.js';

export interface InstallTemplatesOptions {
  /**
   * Replicas of each index. By default `index.auto_expand_replicas: 0-1`: no replica on a single
   * node (so the local node stays green), one as soon as the cluster has a second data node.
   */
  replicas?: number;
  /** A client to use instead of one built from the environment's ES_* settings (auth). */
  client?: Client;
  log?: (msg: string) => void;
}

/** Above Elasticsearch's built-in templates (priority 100 and below), so ours win on any overlap. */
const PRIORITY = 200;

/**
 * Installs (or replaces: PUT _index_template is idempotent) every index template of the pipeline
 * for `prefix`, with the explicit mappings of contracts/indices.ts. Returns the template names.
 * Existing indices keep their mappings; the templates apply to indices created afterwards.
 */
export async function installTemplates(esUrl: string, prefix?: string, opts: InstallTemplatesOptions = {}): Promise<string[]> {
  const cfg = loadConfig({ esUrl });
  const indexPrefix = prefix ?? cfg.esIndexPrefix;
  const client = opts.client ?? esFromConfig(cfg);
  const settings =
    opts.replicas === undefined ? { 'index.auto_expand_replicas': '0-1' } : { 'index.number_of_replicas': opts.replicas };
  const names: string[] = [];
  try {
    for (const [name, t] of Object.entries(indexTemplates(indexPrefix, cfg))) {
      const extra = (t as { settings?: Record<string, unknown> }).settings;
      await client.indices.putIndexTemplate({
        name,
        index_patterns: t.index_patterns,
        priority: PRIORITY,
        template: { settings: { ...extra, ...settings }, mappings: t.mappings as never },
        _meta: { managed_by: 'clickstream infra (contracts/indices.ts)' },
      });
      names.push(name);
    }
    // The KPI index is one long-lived index: a template change reaches it only through its settings (dynamic).
    await client.indices.putSettings({ index: indexNames(indexPrefix).kpis, settings: kpiIndexSettings(cfg), ignore_unavailable: true, allow_no_indices: true });
  } catch (err) {
    throw new Error(`installing index templates on ${esUrl} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    if (!opts.client) await client.close().catch(() => {});
  }
  opts.log?.(`installed index templates ${names.join(', ')}`);
  return names;
}
