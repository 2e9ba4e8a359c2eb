/**
 * Distinct users over a range: how far Elasticsearch's `cardinality` estimate (HyperLogLog++,
 * precision_threshold DISTINCT_USERS.precisionThreshold) is from the true count at 10,000, 20,000
 * and 100,000 distinct visitor ids (random UUIDs, several sets each), beside the exact count the
 * dashboard pages out of a `composite` aggregation (dashboard/distinct-users.ts `countDistinct`)
 * and what each costs, measured in the same run.
 *
 *   ES_URL=http://127.0.0.1:9200 npm run bench:distinct [-- --sets 10]
 *
 * Writes to an index of its own (`bench-distinct-<pid>`) on the Elasticsearch of ES_URL and
 * deletes it at the end.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../common/config.js';
import { esFromConfig } from '../common/es-client.js';
import { DISTINCT_USERS } from '../contracts/documents.js';
import { countDistinct } from '../dashboard/distinct-users.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SETS = arg('sets', 10);
const SIZES = [10_000, 20_000, 100_000];

const es = esFromConfig(loadConfig());
const index = `bench-distinct-${process.pid}`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  await es.indices.create({ index, settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '-1' }, mappings: { properties: { v: { type: 'keyword' }, s: { type: 'keyword' } } } });
  for (const n of SIZES) {
    const sets = n >= 100_000 ? Math.max(1, Math.ceil(SETS / 4)) : SETS;
    for (let s = 0; s < sets; s++) {
      for (let i = 0; i < n; i += 20_000) {
        const operations = Array.from({ length: Math.min(20_000, n - i) }, () => [{ index: {} }, { v: randomUUID(), s: `${n}-${s}` }]).flat();
        const res = await es.bulk({ index, operations });
        if (res.errors) throw new Error('bulk refused documents');
      }
    }
  }
  await es.indices.refresh({ index });
  console.log(`Elasticsearch cardinality (precision_threshold ${DISTINCT_USERS.precisionThreshold}) vs the exact count, random UUIDs`);
  console.log('distinct  sets  estimate error (min / median / max)   exact sets   estimate ms   exact count ms   exact/estimate');
  for (const n of SIZES) {
    const sets = n >= 100_000 ? Math.max(1, Math.ceil(SETS / 4)) : SETS;
    const errors: number[] = [];
    const estMs: number[] = [];
    const exactMs: number[] = [];
    for (let s = 0; s < sets; s++) {
      const filter = [{ term: { s: `${n}-${s}` } }];
      let t = performance.now();
      const res = await es.search({ index, size: 0, query: { bool: { filter } }, aggs: { c: { cardinality: { field: 'v', precision_threshold: DISTINCT_USERS.precisionThreshold } } } });
      estMs.push(performance.now() - t);
      errors.push(((res.aggregations as { c: { value: number } }).c.value - n) / n);
      t = performance.now();
      const exact = await countDistinct((r) => es.search(r), index, filter, 'v', Infinity);
      exactMs.push(performance.now() - t);
      if (exact !== n) throw new Error(`exact count ${exact} for ${n}`);
    }
    const pct = (x: number) => `${(x * 100).toFixed(3)} %`;
    const exactSets = errors.filter((e) => e === 0).length;
    console.log(
      `${String(n).padStart(8)}  ${String(sets).padStart(4)}  ${pct(Math.min(...errors)).padStart(9)} / ${pct(median(errors)).padStart(9)} / ${pct(Math.max(...errors)).padStart(9)}   ${`${exactSets}/${sets}`.padStart(10)}   ${median(estMs).toFixed(0).padStart(11)}   ${median(exactMs).toFixed(0).padStart(14)}   ${(median(exactMs) / median(estMs)).toFixed(1).padStart(14)}`,
    );
  }
} finally {
  await es.indices.delete({ index }, { ignore: [404] });
  await es.close();
}
