/**
 * npm run bench:storage -- [--events 50000] [--es-url http://127.0.0.1:9200]
 *
 * Bytes per event in each store, for docs/capacity.md: the Kafka record (value + key, as the
 * gateway produces it: JSON, no compression), the raw-event document in Elasticsearch (the
 * project's own index template, primary shard only, after a force-merge to one segment, so
 * `_stats/store` is what the data takes at rest), and the Parquet archive (the archive sink's
 * own encoder, chunks of ARCHIVE_MAX_EVENTS). Events are the traffic generator's shoppers
 * enriched by the gateway's own code. Needs a running Elasticsearch (`npm run infra`, or
 * ES_URL); writes only indices and templates of its own prefix, deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { loadConfig } from '../common/config.js';
import { eventIndexFor } from '../contracts/indices.js';
import { encodeParquet } from '../processor/archive/parquet.js';
import { installTemplates } from '../infra/setup-indices.js';
import { parseArgs } from './lib/args.js';
import { enrichedEvents } from './lib/enriched.js';
import { log, onCleanup, runBench } from './lib/run.js';
import { int, table } from './lib/stats.js';

const a = parseArgs();
const N = a.num('events', 50_000);
const cfg = loadConfig();
const ES_URL = a.str('es-url', cfg.esUrl);
const CHUNK = cfg.archiveMaxEvents;
const BULK = 2000;
const prefix = `bench-storage-${Date.now().toString(36)}`;

await runBench('bench:storage', 1800, async () => {
  // A pool as large as the run: no batch repeats, so compression sees no more repetition than the
  // generator's shoppers have (real traffic is more varied still: these are lower bounds).
  const { docs } = enrichedEvents(N, 10_000, `s${prefix}`, Math.ceil(N / 20));
  // The SDK's ids are random UUIDs; the bench bodies' are sequential (and compress far better).
  for (const d of docs) d.event_id = randomUUID();
  log(`${int(N)} enriched events generated`);

  // Kafka: the record as produced (value = enriched event JSON, key = visitor id).
  const valueBytes = docs.reduce((s, d) => s + Buffer.byteLength(JSON.stringify(d)), 0) / N;
  const keyBytes = docs.reduce((s, d) => s + Buffer.byteLength(d.visitor_id), 0) / N;

  // Parquet: the archive sink's encoder, one file per chunk of CHUNK offsets.
  let parquetBytes = 0;
  for (let i = 0; i < N; i += CHUNK) {
    parquetBytes += encodeParquet(docs.slice(i, i + CHUNK).map((event, k) => ({ event, partition: 0, offset: BigInt(i + k) }))).byteLength;
  }

  // Elasticsearch: the raw-event index of the project's template, one primary, force-merged.
  const es = new Client({ node: ES_URL, requestTimeout: 120_000 });
  onCleanup('indices', async () => {
    await es.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
    await es.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => {});
    await es.close();
  });
  await installTemplates(ES_URL, prefix);
  for (let i = 0; i < N; i += BULK) {
    const operations: object[] = [];
    for (const d of docs.slice(i, i + BULK)) operations.push({ index: { _index: eventIndexFor(prefix, d.received_at), _id: d.event_id } }, d);
    const res = await es.bulk({ operations });
    if (res.errors) throw new Error(`Elasticsearch refused documents: ${JSON.stringify(res.items.find((it) => it.index?.error)?.index?.error)}`);
  }
  const index = `${prefix}-events-*`;
  await es.indices.refresh({ index });
  await es.indices.forcemerge({ index, max_num_segments: 1 });
  await es.indices.refresh({ index });
  const { count } = await es.count({ index });
  if (count !== N) throw new Error(`${count} documents in Elasticsearch, ${N} written`);
  const stats = await es.indices.stats({ index, metric: ['store', 'docs'] });
  const esBytes = (stats._all.primaries?.store?.size_in_bytes ?? NaN) / N;

  console.log(`\nbench:storage, ${int(N)} events (Elasticsearch ${ES_URL})\n`);
  console.log(
    table(
      ['store', 'bytes per event', 'per million events'],
      [
        ['Kafka record (value + key, JSON, uncompressed)', int(valueBytes + keyBytes), `${(((valueBytes + keyBytes) * 1e6) / 2 ** 20).toFixed(0)} MiB`],
        ['Elasticsearch raw event (primary, force-merged)', int(esBytes), `${((esBytes * 1e6) / 2 ** 20).toFixed(0)} MiB`],
        [`Parquet archive (Snappy, ${int(CHUNK)}-event objects)`, int(parquetBytes / N), `${((parquetBytes / N) * 1e6 / 2 ** 20).toFixed(0)} MiB`],
      ],
    ),
  );
});
