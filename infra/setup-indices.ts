import type { Client } from '@elastic/elasticsearch';
import { esFromConfig } from '../common/es-client.js';
import { loadConfig } from '../common/config.js';
import { indexNames, indexTemplates, kpiIndexSettings, searchIdleSettings } from '../contracts/indices.js';

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

/**
 * PUT _mapping of `properties` on the existing indices of `patterns`: Elasticsearch adds the
 * fields they lack and accepts the ones they have with the same type; a changed type is refused.
 */
async function addNewFields(client: Client, patterns: string | string[], properties: Record<string, unknown>): Promise<void> {
  try {
    await client.indices.putMapping({ index: patterns, properties: properties as never, allow_no_indices: true, ignore_unavailable: true, expand_wildcards: 'open' });
  } catch (err) {
    const reason = (err as { meta?: { body?: { error?: { reason?: string } } } }).meta?.body?.error?.reason ?? (err instanceof Error ? err.message : String(err));
    throw new Error(`an existing index of ${[patterns].flat().join(', ')} has a mapping this version cannot extend (${reason}): reindex it into the new mapping (README, troubleshooting)`, { cause: err });
  }
}

/** Above Elasticsearch's built-in templates (priority 100 and below), so ours win on any overlap. */
const PRIORITY = 200;

/**
 * Installs (or replaces: PUT _index_template is idempotent) every index template of the pipeline
 * for `prefix`, with the explicit mappings of contracts/indices.ts, and adds the fields a newer
 * version introduced to the indices that already exist (their mappings are strict: without the new
 * fields they would refuse every new document, for example URL stats' `revenue_by_currency`).
 * A field whose type changed cannot be added: that fails with the index and field named; the
 * existing index then has to be reindexed. Returns the template names.
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
      await addNewFields(client, t.index_patterns, (t.mappings as { properties: Record<string, unknown> }).properties);
      names.push(name);
    }
    // The KPI index is one long-lived index: a template change reaches it only through its settings (dynamic).
    await client.indices.putSettings({ index: indexNames(indexPrefix).kpis, settings: kpiIndexSettings(cfg), ignore_unavailable: true, allow_no_indices: true });
    const n = indexNames(indexPrefix);
    await client.indices.putSettings({ index: [n.eventsPattern, n.sessions, n.urlStats, n.alerts], settings: searchIdleSettings, ignore_unavailable: true, allow_no_indices: true });
  } catch (err) {
    throw new Error(`installing index templates on ${esUrl} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    if (!opts.client) await client.close().catch(() => {});
  }
  opts.log?.(`installed index templates ${names.join(', ')}`);
  return names;
}
