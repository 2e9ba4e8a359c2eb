/**
 * The processor against the real Kafka and Elasticsearch of the global set-up and a real
 * S3-compatible server (MinIO, test/minio.ts): a known set of generated events (with late events
 * and bots) goes in, and every KPI window, URL x country and session document in Elasticsearch,
 * every raw event, and every event read back from the Parquet archive are compared with an
 * independent computation from the same topic-partitions (test/harness/reference.ts).
 *
 * The same comparison after SIGKILLs at random moments, and with three instances in one consumer
 * group, is in processor-crash.integration.test.ts (a file of its own: the two run side by side).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import type { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { EVENT_TOPICS } from '../contracts/topics.js';
import type { Config } from '../contracts/config.js';
import { waitFor } from '../common/wait.js';
import { ROLES, roleGroupId, startProcessor, type Role } from './main.js';
import { generateTraffic } from '../test/harness/traffic.js';
import {
  expectArchive,
  expectDocs,
  expectRawEvents,
  input,
  expectedDocs,
  isolatedConfig,
  outputDocs,
  produce,
  produceClosingEvents,
  readLogs,
  type LogRecord,
} from '../test/harness/it-harness.js';
import { createBucket, startMinio } from '../test/minio.js';
import { processorSuite } from '../test/harness/processor-suite.js';
import { startHangProxy } from '../test/harness/hang-proxy.js';

const suite = processorSuite();
const { brokers, esUrl, s3Config, storeFor } = suite;
const PARTITIONS = 3;
let es: Client;
beforeAll(() => {
  es = suite.es;
});

async function committedOffsets(cfg: Partial<Config>, role: Role) {
  const admin = new Kafka({ clientId: 'it-admin', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const r = await admin.fetchOffsets({ groupId: roleGroupId({ processorGroupId: cfg.processorGroupId! }, role), topics: EVENT_TOPICS.map((t) => cfg.topicPrefix + t) });
    return r.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, ...p })));
  } finally {
    await admin.disconnect();
  }
}

describe('processor end to end', () => {
  // The default client, and the fallback (kafkajs): every other processor test runs on the default.
  test.each(['platformatic', 'kafkajs'] as const)('KPI, URL and session documents, raw events and the S3 archive equal an independent computation (%s)', async (client) => {
    const cfg = await isolatedConfig(brokers, esUrl, PARTITIONS, { processorKafkaClient: client });
    Object.assign(cfg, s3Config(cfg.topicPrefix!.replace(/_$/, '')));
    const { events, closeAt } = input(101, 400, { late: true });
    await produce(brokers, cfg.topicPrefix!, events);
    await produceClosingEvents(brokers, cfg.topicPrefix!, PARTITIONS, closeAt);
    const records = await readLogs(brokers, cfg.topicPrefix!, events.length + 4 * PARTITIONS);
    const expected = expectedDocs(records, PARTITIONS, cfg);
    // The input really exercises what is compared.
    const values = [...expected.values()];
    expect(values.some((d) => (d.late_events as number) > 0)).toBe(true);
    expect(values.some((d) => (d.time_spent_samples as number) > 0)).toBe(true);
    expect(values.some((d) => d.closed === true && d.purchased === true)).toBe(true);
    expect(values.some((d) => d.window_kind === 'sliding_5m_1m' && d.final === true)).toBe(true);

    const processor = await startProcessor(cfg);
    try {
      const docs = await expectDocs(es, cfg, expected, 120_000);
      expect(docs!.size).toBeGreaterThan(1000);
      await expectRawEvents(es, cfg, records, 30_000);
      await expectArchive(storeFor(cfg), cfg, records, 30_000);
      // Each role committed in its own group, with its sink's checkpoint in the metadata.
      const sinkOf: Record<Role, string> = { analytics: 'analytics', index: 'es-events', archive: 'archive' };
      for (const role of ROLES) {
        const committed = await committedOffsets(cfg, role);
        expect(committed.some((c) => Number(c.offset) > 0)).toBe(true);
        for (const c of committed) expect(Object.keys(JSON.parse(c.metadata ?? '{}'))).toEqual([sinkOf[role]]);
      }
      expect(processor.health()).toEqual({ ok: true, reason: null });
      const metrics = await processor.metrics.registry.metrics();
      expect(metrics).toMatch(/processor_late_events_total\{reason="behind_partition"\} [1-9]/);
      expect(metrics).toMatch(/processor_consumer_lag\{[^}]*\} 0/);
    } finally {
      await processor.stop();
    }
  }, 300_000);
});

describe('backpressure', () => {
  test('S3 down: consumption waits and retries with backoff; when it is back, nothing is lost or doubled', async () => {
    const own = await startMinio();
    let current = own;
    let processor: Awaited<ReturnType<typeof startProcessor>> | undefined;
    try {
      await createBucket(own, 'backpressure');
      const cfg = await isolatedConfig(brokers, esUrl, PARTITIONS);
      Object.assign(cfg, {
        archiveBackend: 's3',
        s3Endpoint: own.endpoint,
        s3Bucket: 'backpressure',
        s3Prefix: 'bp/',
        s3AccessKeyId: own.accessKeyId,
        s3SecretAccessKey: own.secretAccessKey,
        s3ForcePathStyle: true,
      } satisfies Partial<Config>);
      const { events, closeAt } = input(404, 300);
      const half = Math.ceil(events.length / 2);
      const running = await startProcessor(cfg);
      processor = running;
      // The archive role's figures: S3 is what fails here.
      const metric = async (name: string) => {
        const m = (await running.metrics.registry.getSingleMetricAsString(name)).match(/\{role="archive"\} (\d+(?:\.\d+)?)$/m);
        return m ? Number(m[1]) : 0;
      };
      await produce(brokers, cfg.topicPrefix!, events.slice(0, half));
      await expectRawEvents(es, cfg, await readLogs(brokers, cfg.topicPrefix!, half), 60_000);
      await current.stop({ keepData: true });
      await produce(brokers, cfg.topicPrefix!, events.slice(half));
      await produceClosingEvents(brokers, cfg.topicPrefix!, PARTITIONS, closeAt);
      await waitFor(async () => (await metric('processor_backpressure')) === 1 && (await metric('processor_flush_errors_total')) >= 2, 'backpressure after failed archive flushes', 60_000).catch(() => undefined);
      expect(await metric('processor_backpressure')).toBe(1);
      expect(await metric('processor_flush_errors_total')).toBeGreaterThanOrEqual(2);
      // Long enough for the backoff to outgrow the session timeout, unless told otherwise.
      await new Promise((r) => setTimeout(r, Number(process.env.IT_OUTAGE_MS ?? 15_000)));
      current = await startMinio({ port: own.port, dataDir: own.dataDir });
      const records = await readLogs(brokers, cfg.topicPrefix!, events.length + 4 * PARTITIONS);
      try {
        await expectDocs(es, cfg, expectedDocs(records, PARTITIONS, cfg), 120_000);
      } finally {
        if (process.env.IT_DEBUG) console.log(await running.metrics.registry.getSingleMetricAsString('processor_late_events_total'));
      }
      await expectRawEvents(es, cfg, records, 60_000);
      await expectArchive(storeFor(cfg), cfg, records, 60_000);
      expect(await metric('processor_backpressure')).toBe(0);
    } finally {
      await processor?.stop();
      await current.stop();
    }
  }, 300_000);
});


describe('roles progress independently', () => {
  test('Elasticsearch hung: the archive role archives everything meanwhile; once it answers, KPIs and raw events are complete', async () => {
    const proxy = await startHangProxy(new URL(esUrl));
    let processor: Awaited<ReturnType<typeof startProcessor>> | undefined;
    try {
      const cfg = await isolatedConfig(brokers, esUrl, PARTITIONS);
      Object.assign(cfg, s3Config(cfg.topicPrefix!.replace(/_$/, '')), { esUrl: proxy.url });
      const { events, closeAt } = input(505, 300);
      proxy.hang();
      const running = await startProcessor(cfg);
      processor = running;
      await produce(brokers, cfg.topicPrefix!, events);
      await produceClosingEvents(brokers, cfg.topicPrefix!, PARTITIONS, closeAt);
      const records = await readLogs(brokers, cfg.topicPrefix!, events.length + 4 * PARTITIONS);
      // Every event archived while no Elasticsearch request gets an answer.
      await expectArchive(storeFor(cfg), cfg, records, 60_000);
      const direct = { ...cfg, esUrl };
      expect((await outputDocs(es, cfg.esIndexPrefix!)).size).toBe(0);
      // The Elasticsearch roles have not committed past anything: their groups hold no offset yet.
      for (const role of ['analytics', 'index'] as const) expect((await committedOffsets(cfg, role)).every((c) => c.offset === '-1')).toBe(true);
      expect((await committedOffsets(cfg, 'archive')).some((c) => Number(c.offset) > 0)).toBe(true);
      await new Promise((r) => setTimeout(r, Number(process.env.IT_ES_HANG_MS ?? 5_000)));
      proxy.resume();
      const resumedAt = Date.now();
      await expectDocs(es, direct, expectedDocs(records, PARTITIONS, cfg), 180_000);
      const kpisMs = Date.now() - resumedAt;
      await expectRawEvents(es, direct, records, 60_000);
      // The README's recovery figure for Elasticsearch (never asserted: the machine is shared).
      console.log(`[es-hung] after Elasticsearch answers again: KPI, URL and session documents complete in ${kpisMs} ms, raw events in ${Date.now() - resumedAt} ms (${records.length} records)`);
    } finally {
      proxy.resume();
      await processor?.stop();
      await proxy.close();
    }
  }, 400_000);

  test('upgrade from the single group: a role group that never committed resumes from the old group\'s offsets', async () => {
    const cfg = await isolatedConfig(brokers, esUrl, PARTITIONS);
    const { events } = input(707, 120);
    const half = Math.ceil(events.length / 2);
    await produce(brokers, cfg.topicPrefix!, events.slice(0, half));
    // The old processor (one group named PROCESSOR_GROUP_ID) had consumed the first half.
    const admin = new Kafka({ clientId: 'it-admin', brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      for (const t of EVENT_TOPICS) {
        const topic = cfg.topicPrefix + t;
        const ends = await admin.fetchTopicOffsets(topic);
        await admin.setOffsets({ groupId: cfg.processorGroupId!, topic, partitions: ends.map((e) => ({ partition: e.partition, offset: e.high })) });
      }
    } finally {
      await admin.disconnect();
    }
    await produce(brokers, cfg.topicPrefix!, events.slice(half));
    const all = await readLogs(brokers, cfg.topicPrefix!, events.length);
    const secondHalf = new Set(events.slice(half).map((e) => e.event_id));
    const index = await startProcessor({ ...cfg, processorRoles: ['index'] });
    try {
      await expectRawEvents(es, cfg, all.filter((r) => secondHalf.has(r.event.event_id)), 60_000);
      await new Promise((r) => setTimeout(r, 2000));
      await expectRawEvents(es, cfg, all.filter((r) => secondHalf.has(r.event.event_id)), 1);
    } finally {
      await index.stop();
    }
    expect((await committedOffsets(cfg, 'index')).every((c) => c.offset !== '-1')).toBe(true);
  }, 120_000);

  test('an instance per role: KPIs complete while no index instance runs; an index-only instance then catches up', async () => {
    const cfg = await isolatedConfig(brokers, esUrl, PARTITIONS);
    Object.assign(cfg, s3Config(cfg.topicPrefix!.replace(/_$/, '')));
    const { events, closeAt } = input(606, 300);
    await produce(brokers, cfg.topicPrefix!, events);
    await produceClosingEvents(brokers, cfg.topicPrefix!, PARTITIONS, closeAt);
    const records = await readLogs(brokers, cfg.topicPrefix!, events.length + 4 * PARTITIONS);
    const analytics = await startProcessor({ ...cfg, processorRoles: ['analytics'] });
    try {
      expect(analytics.roles).toEqual(['analytics']);
      await expectDocs(es, cfg, expectedDocs(records, PARTITIONS, cfg), 120_000);
      const raw = `${cfg.esIndexPrefix}-events-*`;
      expect((await es.count({ index: raw, allow_no_indices: true, ignore_unavailable: true })).count).toBe(0);
      expect((await committedOffsets(cfg, 'index')).every((c) => c.offset === '-1')).toBe(true);
    } finally {
      await analytics.stop();
    }
    const index = await startProcessor({ ...cfg, processorRoles: ['index'] });
    try {
      await expectRawEvents(es, cfg, records, 60_000);
    } finally {
      await index.stop();
    }
  }, 300_000);
});

describe('quiet partitions', () => {
  test('traffic stops: after WATERMARK_IDLE_S the last windows are final and every session closed, as the independent computation with the watermark past everything', async () => {
    const cfg = await isolatedConfig(brokers, esUrl, PARTITIONS, {
      watermarkIdleS: 2,
      kpiAllowedLatenessS: 0,
      kpiTumblingS: 10,
      kpiSlidingSizeS: 0,
      sessionGapS: 5,
      archiveBackend: 'none',
    });
    // Event times of the last half hour; no closing events: nothing but the clock moves the watermark past them.
    const now = Date.now();
    const events = generateTraffic({ seed: 909, visitors: 40, startMs: now - 30 * 60_000, spanMs: 60_000, maxDelayMs: 2_000, botShare: 0, maxSessions: 1 }).map((g) => g.event);
    await produce(brokers, cfg.topicPrefix!, events);
    expect(Math.max(...events.map((e) => Date.parse(e.timestamp)))).toBeLessThan(now);
    const records = await readLogs(brokers, cfg.topicPrefix!, events.length);
    const expected = expectedDocs(records, PARTITIONS, cfg, Infinity);
    const values = [...expected.values()];
    expect(values.length).toBeGreaterThan(50);
    expect(values.every((d) => d.final !== false && d.closed !== false)).toBe(true);
    const processor = await startProcessor(cfg);
    try {
      await expectDocs(es, cfg, expected, 60_000);
      expect(await processor.metrics.registry.getSingleMetricAsString('processor_watermark_idle_advances_total')).toMatch(/\} [1-9]/);
    } finally {
      await processor.stop();
    }
  }, 120_000);
});

describe('repeated records', () => {
  test('records on Kafka twice (soon after and far apart within the horizon): raw events, KPI windows, sessions, URL stats and archive rows count each once', async () => {
    const cfg = await isolatedConfig(brokers, esUrl, PARTITIONS, { archiveRepeatHorizon: 1000 });
    Object.assign(cfg, s3Config(cfg.topicPrefix!.replace(/_$/, '')));
    const { events, closeAt } = input(1001, 200);
    // The same record produced again (a send Kafka stored although the gateway answered 503, retried
    // by the client): every 20th event a few records later, every 25th about 400 records later.
    const twice = events.flatMap((e, i) => [e, ...(i % 20 === 3 ? [{ ...events[i - 3] }] : []), ...(i >= 400 && i % 25 === 0 ? [{ ...events[i - 400] }] : [])]);
    const injected = twice.length - events.length;
    expect(injected).toBeGreaterThan(100);
    await produce(brokers, cfg.topicPrefix!, twice);
    await produceClosingEvents(brokers, cfg.topicPrefix!, PARTITIONS, closeAt);
    const records = await readLogs(brokers, cfg.topicPrefix!, twice.length + 4 * PARTITIONS);
    // The input without the repeats: records come sorted by topic, partition and offset.
    const first = new Map<string, LogRecord>();
    const gaps: number[] = [];
    const once = records.filter((r) => {
      const key = `${r.event.site_id}\u0000${r.event.event_id}`;
      const prev = first.get(key);
      if (prev) gaps.push(Number(r.offset - prev.offset));
      else first.set(key, r);
      return !prev;
    });
    expect(gaps.length).toBe(injected);
    // Far apart in their topic-partition, yet within the horizon.
    expect(Math.max(...gaps)).toBeGreaterThan(50);
    expect(Math.max(...gaps)).toBeLessThan(cfg.archiveRepeatHorizon!);
    const expected = expectedDocs(once, PARTITIONS, cfg);
    const processor = await startProcessor(cfg);
    try {
      await expectDocs(es, cfg, expected, 120_000);
      await expectRawEvents(es, cfg, once, 60_000);
      await expectArchive(storeFor(cfg), cfg, once, 60_000);
      const repeated = async (output: string) =>
        Number((await processor.metrics.registry.getSingleMetricAsString('processor_repeated_events_total')).match(new RegExp(`output="${output}"\\} (\\d+)$`, 'm'))?.[1] ?? 0);
      expect(await repeated('archive')).toBe(injected);
      // Bots are left out of KPIs before any repeat check.
      const botRepeats = records.filter((r) => r.event.is_bot).length - once.filter((r) => r.event.is_bot).length;
      expect(await repeated('analytics')).toBe(injected - botRepeats);
    } finally {
      await processor.stop();
    }
  }, 240_000);
});
