/**
 * npm run backup                       snapshot every index of ES_INDEX_PREFIX into ES_SNAPSHOT_REPOSITORY
 *                                      (registered first if missing), then keep the newest ES_SNAPSHOT_KEEP
 * npm run backup -- --snapshot NAME    the same under a name of your choosing (lowercase)
 * npm run backup -- --list             the repository's snapshots, newest first
 * npm run restore                      restore the newest successful snapshot of ES_INDEX_PREFIX
 * npm run restore -- --snapshot NAME   restore that snapshot
 * npm run restore -- --replace         delete project indices that exist first (otherwise refused)
 */
import { parseArgs } from 'node:util';
import { esFromConfig } from '../common/es-client.js';
import { loadConfig } from '../common/config.js';
import { listSnapshots, restoreSnapshot, snapshotName, takeSnapshot } from '../processor/snapshots.js';

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      snapshot: { type: 'string' },
      replace: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const cfg = loadConfig();
  const es = esFromConfig(cfg);
  try {
    if (values.list) {
      const all = (await listSnapshots(es, cfg.esSnapshotRepository)).sort((a, b) => b.startMs - a.startMs);
      if (all.length === 0) console.log(`no snapshot in repository "${cfg.esSnapshotRepository}"`);
      for (const x of all) {
        console.log(`${x.name}\t${x.state}\t${new Date(x.startMs).toISOString()}\t${x.indices.length} indices${x.prefix === undefined ? '\t(not taken by this project)' : ''}`);
      }
      return;
    }
    if (command === 'snapshot') {
      const name = values.snapshot ?? snapshotName(cfg.esIndexPrefix, Date.now());
      const r = await takeSnapshot(es, cfg, name);
      console.log(`snapshot ${r.snapshot} in ${cfg.esSnapshotRepository}: ${r.indices.length} indices, ${r.shards.successful}/${r.shards.total} shards, ${r.seconds.toFixed(1)} s`);
      if (r.pruned.length) console.log(`deleted older snapshots (ES_SNAPSHOT_KEEP=${cfg.esSnapshotKeep}): ${r.pruned.join(', ')}`);
      return;
    }
    if (command === 'restore') {
      const r = await restoreSnapshot(es, cfg, { snapshot: values.snapshot, replace: values.replace });
      if (r.replaced.length) console.log(`deleted before restoring: ${r.replaced.join(', ')}`);
      console.log(`restored ${r.snapshot}: ${r.indices.join(', ')} in ${r.seconds.toFixed(1)} s`);
      return;
    }
    throw new Error(`unknown command "${command}" (snapshot or restore)`);
  } finally {
    await es.close();
  }
}

main().catch((err) => {
  console.error(`[backup] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
