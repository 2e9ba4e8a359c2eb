/**
 * The archive as the system of record: traffic (with late events and bots) through the real
 * processor with its Parquet archive on MinIO, every Elasticsearch index of the pipeline deleted,
 * then `npm run replay:archive` rebuilds them from the archive alone; the raw events and every
 * KPI, URL x country and session document are compared, document by document, with what the
 * live pipeline had written.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { Client } from '@elastic/elasticsearch';
import { configToEnv, type Config } from '../contracts/config.js';
import { esFromConfig } from '../common/es-client.js';
import { waitFor } from '../common/wait.js';
import { startProcessor } from './main.js';
import { S3ObjectStore } from './archive/object-store.js';
import { generateTraffic } from '../test/harness/traffic.js';
import { archivedEvents, diffDocs, expectedDocs, isolatedConfig, outputDocs, produce, produceClosingEvents, readLogs } from '../test/harness/it-harness.js';
import { createBucket, startMinio, type Minio } from '../test/minio.js';
import { PROJECT_ROOT } from '../infra/paths.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const brokers = inject('kafkaBrokers');
const esUrl = inject('esUrl');
const PARTITIONS = 3;
const HOUR = 3_600_000;

let minio: Minio;
let es: Client;

beforeAll(async () => {
  minio = await startMinio();
  await createBucket(minio, 'replay-it');
  es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
}, 1_800_000);

afterAll(async () => {
  await es?.close();
  await minio?.stop();
});

/** Every raw event document: id -> source. */
async function rawEvents(prefix: string): Promise<Map<string, unknown>> {
  const index = `${prefix}-events-*`;
  await es.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true });
  const out = new Map<string, unknown>();
  const r = await es.search({ index, size: 10_000, track_total_hits: true, query: { match_all: {} }, ignore_unavailable: true, allow_no_indices: true });
  expect((r.hits.total as { value: number }).value).toBeLessThan(10_000);
  for (const h of r.hits.hits) out.set(`${h._index}/${h._id}`, h._source);
  return out;
}

function runReplay(cfg: Partial<Config>, from: string, to: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/replay-archive.ts', '--from', from, '--to', to], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...configToEnv(cfg), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

test('delete every index, rebuild from the S3 archive: raw events, KPI, URL and session documents as the live pipeline wrote them', async () => {
  const cfg = await isolatedConfig(brokers, esUrl, PARTITIONS);
  Object.assign(cfg, {
    archiveBackend: 's3',
    s3Endpoint: minio.endpoint,
    s3Bucket: 'replay-it',
    s3Prefix: `${cfg.topicPrefix!.replace(/_$/, '')}/`,
    s3AccessKeyId: minio.accessKeyId,
    s3SecretAccessKey: minio.secretAccessKey,
    s3ForcePathStyle: true,
  });
  const start = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
  const events = generateTraffic({ seed: 1313, visitors: 250, startMs: start, spanMs: 90 * 60_000, maxDelayMs: 10_000, lateShare: 0.01, lateByMs: 5 * 60_000, botShare: 0.05 }).map((g) => g.event);
  const end = Math.max(...events.map((e) => Date.parse(e.timestamp)));
  await produce(brokers, cfg.topicPrefix!, events);
  await produceClosingEvents(brokers, cfg.topicPrefix!, PARTITIONS, end + 2 * HOUR);
  const records = await readLogs(brokers, cfg.topicPrefix!, events.length + 4 * PARTITIONS);
  const expected = expectedDocs(records, PARTITIONS, cfg);

  const store = new S3ObjectStore({ endpoint: minio.endpoint, bucket: 'replay-it', prefix: cfg.s3Prefix, region: 'us-east-1', accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey, forcePathStyle: true });
  // The live pipeline, until every output is complete (the archive included).
  const processor = await startProcessor(cfg);
  let live: Map<string, Record<string, unknown>>;
  let liveRaw: Map<string, unknown>;
  try {
    ({ live, liveRaw } = await waitFor(
      async () => {
        const docs = await outputDocs(es, cfg.esIndexPrefix!);
        const raw = await rawEvents(cfg.esIndexPrefix!);
        const archived = (await archivedEvents(store, cfg.topicPrefix!)).size;
        const missing = diffDocs(docs, expected, 3);
        // Thrown, so a time-out names what was still missing.
        if (missing.length || raw.size !== new Set(records.map((r) => r.event.event_id)).size || archived !== records.length) {
          throw new Error(`live pipeline incomplete: ${missing.join('; ')}; ${raw.size} raw events, ${archived} archived`);
        }
        return { live: docs, liveRaw: raw };
      },
      'the live pipeline to complete every output',
      180_000,
      1000,
    ));
  } finally {
    await processor.stop();
  }
  // What is compared really holds late events, time on page, purchases and final sliding windows.
  const values = [...live.values()];
  expect(values.some((d) => (d.late_events as number) > 0)).toBe(true);
  expect(values.some((d) => (d.time_spent_samples as number) > 0)).toBe(true);
  expect(values.some((d) => d.closed === true && d.purchased === true)).toBe(true);
  expect(values.some((d) => d.window_kind === 'sliding_5m_1m' && d.final === true)).toBe(true);

  await es.indices.delete({ index: `${cfg.esIndexPrefix}-*` });
  expect((await outputDocs(es, cfg.esIndexPrefix!)).size).toBe(0);

  const from = new Date(start - HOUR).toISOString();
  const to = new Date(end + 3 * HOUR).toISOString();
  const r = await runReplay(cfg, from, to);
  expect(r.out).toMatch(/raw events, \d+ KPI, \d+ URL and \d+ session documents written/);
  expect(r.code).toBe(0);
  console.log(r.out.trim().split('\n').pop());

  const rebuilt = await outputDocs(es, cfg.esIndexPrefix!);
  expect(diffDocs(rebuilt, live, 10)).toEqual([]);
  expect(rebuilt.size).toBe(live.size);
  const rebuiltRaw = await rawEvents(cfg.esIndexPrefix!);
  expect(rebuiltRaw.size).toBe(liveRaw.size);
  expect(diffDocs(rebuiltRaw, liveRaw, 5)).toEqual([]);

  // A part of the range only: its raw events and the windows starting in it, nothing else.
  await es.indices.delete({ index: `${cfg.esIndexPrefix}-*` });
  const partFrom = start + HOUR;
  const partTo = start + HOUR + 30 * 60_000;
  const part = await runReplay(cfg, new Date(partFrom).toISOString(), String(partTo));
  expect(part.code).toBe(0);
  const inPart = (iso: unknown) => Date.parse(String(iso)) >= partFrom && Date.parse(String(iso)) < partTo;
  const wantPart = new Map([...live].filter(([k, d]) => inPart(k.startsWith('sessions/') ? d.start : d.window_start)));
  expect(wantPart.size).toBeGreaterThan(10);
  expect(diffDocs(await outputDocs(es, cfg.esIndexPrefix!), wantPart, 10)).toEqual([]);
  const wantRaw = new Map([...liveRaw].filter(([, e]) => inPart((e as { timestamp: string }).timestamp)));
  expect(diffDocs(await rawEvents(cfg.esIndexPrefix!), wantRaw, 5)).toEqual([]);

  const bad = await runReplay(cfg, 'yesterday', to);
  expect(bad.code).toBe(1);
  expect(bad.out).toContain('--from "yesterday" is not a time');
}, 420_000);
