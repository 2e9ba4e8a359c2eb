/**
 * `npm run kibana:import`: imports infra/kibana/clickstream.ndjson (data views, Lens
 * visualizations, saved searches, the "Clickstream KPIs" dashboard) into the Kibana at
 * KIBANA_URL, overwriting earlier versions of the same objects. Rewrites index patterns and the
 * KPI window for ES_INDEX_PREFIX and KPI_TUMBLING_S. Auth: KIBANA_API_KEY, or KIBANA_USERNAME and
 * KIBANA_PASSWORD; KIBANA_SPACE picks a space.
 *
 *   npm run kibana:import               # import
 *   npm run kibana:import -- --print    # print the (rewritten) ndjson instead, for a manual upload
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../contracts/config.js';
import { loadConfig } from '../common/config.js';
import { KIBANA_NDJSON, renderNdjson } from '../infra/kibana/saved-objects.js';
import { customizationFromConfig, customize, importSavedObjects, importUrl, parseNdjson, targetFromConfig } from '../infra/kibana/import.js';

async function main(): Promise<number> {
  const cfg = loadConfig();
  const objects = customize(parseNdjson(readFileSync(KIBANA_NDJSON, 'utf8')), customizationFromConfig(cfg));
  const ndjson = renderNdjson(objects);
  if (process.argv.includes('--print')) {
    process.stdout.write(ndjson);
    return 0;
  }
  const target = targetFromConfig(cfg);
  console.log(`› importing ${objects.length} saved objects into ${importUrl(target).replace(/\?.*/, '')}`);
  let result;
  try {
    result = await importSavedObjects(ndjson, target);
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    console.error(`kibana:import: ${(err as Error).message}${cause ? ` (${cause})` : ''}`);
    if (cause === 'ECONNREFUSED') console.error(`  is Kibana running at ${cfg.kibanaUrl}? Set KIBANA_URL.`);
    return 1;
  }
  for (const e of result.errors ?? []) console.error(`  ✗ ${e.type} ${e.id} (${e.meta?.title ?? e.title ?? ''}): ${e.error.type}${e.error.message ? ` ${e.error.message}` : ''}`);
  if (!result.success) {
    console.error(`kibana:import: ${result.successCount} imported, ${result.errors?.length ?? 0} failed`);
    return 1;
  }
  const dashboard = objects.find((o) => o.type === 'dashboard');
  const space = cfg.kibanaSpace ? `/s/${encodeURIComponent(cfg.kibanaSpace)}` : '';
  console.log(`› ${result.successCount} objects imported; dashboard: ${cfg.kibanaUrl.replace(/\/+$/, '')}${space}/app/dashboards#/view/${dashboard?.id}`);
  return 0;
}

try {
  process.exit(await main());
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`kibana:import: configuration error: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
