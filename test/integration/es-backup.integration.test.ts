/**
 * Elasticsearch snapshots on a real node: every project index written, snapshotted, deleted,
 * restored, and compared document by document; a restore over existing indices refused unless
 * asked to replace them; retention of the newest N; the scheduled job taking one snapshot per
 * period however many instances run it. The node needs `path.repo`: infra configures it on the
 * nodes it starts (the global set-up's included); against a node without it (TEST_ES_URL pointing
 * at one started otherwise) the test starts a node of its own.
 */
import path from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { Client } from '@elastic/elasticsearch';
import { pino } from 'pino';
import { loadConfig } from '../../common/config.js';
import { eventIndexFor, indexNames } from '../../contracts/indices.js';
import { installTemplates } from '../../infra/setup-indices.js';
import { startElasticsearch } from '../../infra/services.js';
import { PROJECT_ROOT } from '../../infra/paths.js';
import type { ElasticsearchNode } from '../../infra/elasticsearch.js';
import { generateTraffic } from '../harness/traffic.js';
import { listSnapshots, restoreSnapshot, snapshotName, startScheduledSnapshots, takeSnapshot, type SnapshotSettings } from '../../processor/snapshots.js';
import { unique, waitFor } from './helpers.js';
import { freePort } from '../../infra/ports.js';

const id = unique('backup').toLowerCase();
const prefix = `${inject('indexPrefix')}-${id}`;
const settings: SnapshotSettings = {
  ...loadConfig(),
  esIndexPrefix: prefix,
  esSnapshotRepository: `repo-${id}`,
  esSnapshotType: 'fs',
  esSnapshotLocation: `test-${id}`,
  esSnapshotKeep: 2,
};
let es: Client;
let ownNode: ElasticsearchNode | undefined;
const ownDir = path.join(PROJECT_ROOT, '.data', `es-backup-${id}`);

beforeAll(async () => {
  const shared = new Client({ node: inject('esUrl') });
  const nodes = await shared.nodes.info({ metric: 'settings', filter_path: 'nodes.*.settings.path.repo' });
  const hasRepo = Object.values(nodes.nodes ?? {}).some((n) => (n.settings as { path?: { repo?: unknown } } | undefined)?.path?.repo);
  if (hasRepo) {
    es = shared;
  } else {
    await shared.close();
    ownNode = await startElasticsearch({ dataDir: ownDir, fresh: true, port: await freePort(), transportPort: await freePort(), heap: '512m' });
    es = new Client({ node: ownNode.url });
  }
  await installTemplates('', prefix, { client: es, replicas: 0 });
});

afterAll(async () => {
  if (!es) return;
  await es.snapshot.deleteRepository({ name: settings.esSnapshotRepository }).catch(() => {});
  await es.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
  await es.indices.deleteIndexTemplate({ name: `${prefix}-*` }).catch(() => {});
  await es.close();
  if (ownNode) {
    await ownNode.stop();
    rmSync(ownDir, { recursive: true, force: true });
  }
});

type Docs = Record<string, Record<string, unknown>>; // index -> id -> source

async function readAll(): Promise<Docs> {
  const patterns = Object.values(indexNames(prefix)).join(',');
  await es.indices.refresh({ index: patterns, ignore_unavailable: true, allow_no_indices: true });
  const out: Docs = {};
  const r = await es.search({ index: patterns, size: 10_000, ignore_unavailable: true, allow_no_indices: true, query: { match_all: {} } });
  for (const h of r.hits.hits) (out[h._index] ??= {})[h._id!] = h._source;
  return out;
}

async function writeDocuments(): Promise<number> {
  const n = indexNames(prefix);
  // Sessions spread over two UTC days: two daily raw-event indices.
  const traffic = generateTraffic({ seed: 13, visitors: 40, startMs: Date.UTC(2026, 10, 21, 23, 30), spanMs: 60 * 60_000 });
  const ops: object[] = [];
  for (const { event } of traffic) ops.push({ index: { _index: eventIndexFor(prefix, event.timestamp), _id: event.event_id } }, event);
  const t = '2026-11-22T10:00:00.000Z';
  const e = '2026-11-22T10:01:00.000Z';
  for (let p = 0; p < 3; p++) {
    ops.push({ index: { _index: n.kpis, _id: `tumbling_1m|${t}|all|all|${p}` } }, {
      window_kind: 'tumbling_1m', window_start: t, window_end: e, dimension: 'all', dimension_value: 'all', partition: p,
      page_views: 10 + p, clicks: 4, add_to_cart: 2, purchases: 1, revenue_by_currency: [{ currency: 'EUR', purchases: 1, revenue: 12.5 * (p + 1) }], unique_visitors: 5, visitors_added_to_cart: 2,
      visitors_purchased: 1, visitors_carted_and_purchased: 1, sessions: 5, conversion_rate: 0.2, cart_to_purchase_rate: 0.5, late_events: p, final: p > 0,
    });
    ops.push({ index: { _index: n.urlStats, _id: `u${p}` } }, {
      window_start: t, window_end: e, url: 'https://shop.example/products', country: 'FR', partition: p, unique_users: 3, page_views: 4, clicks: 2,
      time_spent_ms: 61_000, time_spent_samples: 3, views_without_time: 1, avg_time_spent_ms: 20_333.3, final: true,
    });
    ops.push({ index: { _index: n.sessions, _id: `ses-${p}` } }, {
      session_id: `ses-${p}`, visitor_id: `vis-${p}`, site_id: 'shop', start: t, end: e, duration_ms: 60_000, pages: 3, events: 7, entry_page: '/', exit_page: '/cart',
      country: 'DE', device_type: 'mobile', added_to_cart: true, purchased: p === 1, revenue_by_currency: p === 1 ? [{ currency: 'EUR', purchases: 1, revenue: 42 }] : [], closed: p !== 2, partition: p,
    });
  }
  ops.push({ index: { _index: n.alerts, _id: 'a1' } }, {
    alert_id: 'a1', kind: 'click_burst', severity: 'warning', visitor_id: 'vis-1', site_id: 'shop', message: '31 clicks in 10 s', value: 31, threshold: 20,
    window_start: t, window_end: e, event_time: t, raised_at: e,
  });
  const r = await es.bulk({ operations: ops, refresh: true });
  expect(r.items.filter((i) => Object.values(i)[0]?.error).map((i) => Object.values(i)[0]?.error?.reason)).toEqual([]);
  return ops.length / 2;
}

test('snapshot, delete every index, restore: every document back, identical', async () => {
  const written = await writeDocuments();
  const before = await readAll();
  const indices = Object.keys(before).sort();
  expect(indices).toEqual(
    [`${prefix}-alerts`, `${prefix}-events-2026.11.21`, `${prefix}-events-2026.11.22`, `${prefix}-kpis`, `${prefix}-sessions`, `${prefix}-url-stats`].sort(),
  );
  expect(Object.values(before).reduce((n, docs) => n + Object.keys(docs).length, 0)).toBe(written);

  const snap = await takeSnapshot(es, settings, 'first');
  console.log(`[backup] snapshot of ${snap.indices.length} indices (${written} documents) in ${snap.seconds.toFixed(1)} s`);
  expect(snap.indices).toEqual(indices);
  expect(snap.shards.failed).toBe(0);
  expect(snap.shards.successful).toBe(snap.shards.total);

  // Something written after the snapshot is not in it: the restore brings back the snapshot's state.
  await es.index({ index: `${prefix}-alerts`, id: 'after-snapshot', document: { alert_id: 'after-snapshot', kind: 'click_burst' }, refresh: true });
  await es.indices.delete({ index: indices.join(',') });
  expect(await readAll()).toEqual({});

  const restored = await restoreSnapshot(es, settings, {});
  console.log(`[backup] restore of ${restored.indices.length} indices in ${restored.seconds.toFixed(1)} s`);
  expect(restored.snapshot).toBe('first');
  expect(restored.indices).toEqual(indices);
  expect(restored.replaced).toEqual([]);
  expect(await readAll()).toEqual(before);

  // Over existing indices: refused, naming them, and nothing changed.
  await expect(restoreSnapshot(es, settings, { snapshot: 'first' })).rejects.toThrow(`these indices exist and would be overwritten: ${indices.join(', ')}`);
  await es.index({ index: `${prefix}-alerts`, id: 'after-restore', document: { alert_id: 'after-restore', kind: 'click_burst' }, refresh: true });
  const replaced = await restoreSnapshot(es, settings, { snapshot: 'first', replace: true });
  expect(replaced.replaced).toEqual(indices);
  expect(await readAll()).toEqual(before);

  await expect(restoreSnapshot(es, settings, { snapshot: 'missing' })).rejects.toThrow('no snapshot "missing"');
});

test('keeps the newest ES_SNAPSHOT_KEEP snapshots; the scheduled job takes one per period whatever the number of instances', async () => {
  await takeSnapshot(es, settings, 'second');
  const third = await takeSnapshot(es, settings, 'third');
  expect(third.pruned).toEqual(['first']);
  await expect(takeSnapshot(es, settings, 'third')).rejects.toThrow('a snapshot named "third" exists');
  expect((await listSnapshots(es, settings.esSnapshotRepository)).map((s) => s.name).sort()).toEqual(['second', 'third']);

  const log = pino({ level: 'silent' });
  const now = () => Date.UTC(2026, 10, 22, 10, 17, 5);
  const results: { snapshot: string; taken: boolean }[] = [];
  const failures: Error[] = [];
  const options = {
    intervalS: 86_400,
    log,
    now,
    checkEveryMs: 500,
    onSuccess: (snapshot: string, taken: boolean) => results.push({ snapshot, taken }),
    onFailure: (e: Error) => failures.push(e),
  };
  // Two processor instances, one daily period.
  const stops = [startScheduledSnapshots(es, settings, options), startScheduledSnapshots(es, settings, options)];
  try {
    await waitFor(async () => results.length === 2, 'both instances to see the period snapshot', 60_000);
    await new Promise((r) => setTimeout(r, 1500)); // a few more checks: nothing more is taken
  } finally {
    for (const stop of stops) stop();
  }
  const period = snapshotName(prefix, Date.UTC(2026, 10, 22));
  expect(failures).toEqual([]);
  expect(results.map((r) => r.snapshot)).toEqual([period, period]);
  expect(results.filter((r) => r.taken)).toHaveLength(1);
  const names = (await listSnapshots(es, settings.esSnapshotRepository)).map((s) => s.name).sort();
  expect(names).toEqual([period, 'third'].sort());
});
