/**
 * npm run replay:archive -- --from 2026-11-22T00:00Z --to 2026-11-23T00:00Z
 *
 * Rebuilds the raw-event indices and the KPI, URL and session documents of [from, to) from the
 * Parquet archive (ARCHIVE_BACKEND local: ARCHIVE_DIR; s3: the S3_* settings) into ES_INDEX_PREFIX,
 * with the processor's own analytics code and settings (processor/replay.ts). Times: anything
 * Date.parse reads (ISO 8601 with a zone), or epoch milliseconds. Safe to run while the processor
 * runs and to run twice: every document is written under the id the live pipeline gives it.
 */
import { parseArgs } from 'node:util';
import { esFromConfig } from '../common/es-client.js';
import { loadConfig } from '../common/config.js';
import { objectStoreFromConfig } from '../processor/archive/object-store.js';
import { replayArchive } from '../processor/replay.js';

function time(name: string, v: string | undefined): number {
  if (!v) throw new Error(`--${name} is required (an ISO 8601 time such as 2026-11-22T10:00:00Z, or epoch milliseconds)`);
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new Error(`--${name} "${v}" is not a time (ISO 8601 such as 2026-11-22T10:00:00Z, or epoch milliseconds)`);
  return ms;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' } }, strict: true });
  const fromMs = time('from', values.from);
  const toMs = time('to', values.to);
  const cfg = loadConfig();
  const store = objectStoreFromConfig(cfg);
  if (!store) throw new Error('ARCHIVE_BACKEND is none: there is no archive to replay (set local with ARCHIVE_DIR, or s3)');
  const es = esFromConfig(cfg);
  try {
    const r = await replayArchive({ store, es, config: cfg, fromMs, toMs, log: (m) => console.log(`[replay] ${m}`) });
    console.log(
      `[replay] ${new Date(fromMs).toISOString()} .. ${new Date(toMs).toISOString()}: ${r.rawEvents} raw events, ${r.kpis} KPI, ${r.urlStats} URL and ${r.sessions} session documents written to ${cfg.esIndexPrefix}-* in ${r.seconds.toFixed(1)} s`,
    );
  } finally {
    await es.close();
  }
}

main().catch((err) => {
  console.error(`[replay] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
