/**
 * Helpers for the processor's integration tests against the real Kafka, Elasticsearch and
 * MinIO: isolated topics/indices per test, producing generated events the way the gateway does,
 * reading the topics back (the input of the independent computation), reading every document
 * the processor wrote, and every event in the Parquet archive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { expect } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import type { Client } from '@elastic/elasticsearch';
import { configToEnv, type Config } from '../../contracts/config.js';
import type { EnrichedEvent, EventType } from '../../contracts/event-schema.js';
import { indexNames } from '../../contracts/indices.js';
import { EVENT_TOPICS, TOPIC_BY_TYPE } from '../../contracts/topics.js';
import { ensureTopics } from '../../infra/setup-topics.js';
import { installTemplates } from '../../infra/setup-indices.js';
import { decodeParquet } from '../../processor/archive/parquet.js';
import { PROCESSOR_NODE_FLAGS } from '../../processor/node-flags.js';
import type { ObjectStore } from '../../processor/archive/object-store.js';
import { windowSpecs } from '../../contracts/windows.js';
import { waitFor } from '../../common/wait.js';
import { unique } from '../integration/helpers.js';
import { referenceDocs } from './reference.js';
import { enriched, generateTraffic } from './traffic.js';

const HOUR = 3_600_000;

export async function isolatedConfig(brokers: string[], esUrl: string, partitions: number, extra: Partial<Config> = {}): Promise<Partial<Config>> {
  const topicPrefix = `${unique('proc')}_`;
  const esIndexPrefix = unique('cs').toLowerCase();
  await ensureTopics(brokers, { prefix: topicPrefix, partitions });
  await installTemplates(esUrl, esIndexPrefix);
  return {
    kafkaBrokers: brokers,
    esUrl,
    topicPrefix,
    esIndexPrefix,
    processorGroupId: unique('group'),
    processorMetricsPort: 0,
    processorFlushIntervalMs: 200,
    kpiEmitIntervalMs: 200,
    kpiAllowedLatenessS: 30,
    archiveMaxEvents: 400,
    archiveMaxAgeS: 1,
    // Small, so that restarts in the tests re-read what the archive's repeat decisions need.
    archiveRepeatHorizon: 300,
    esRetentionIntervalS: 0,
    esSnapshotIntervalS: 0,
    // Event times here are hours old: a pause in a test must not move watermarks by the clock.
    watermarkIdleS: 0,
    logLevel: 'warn',
    ...extra,
  };
}

let spawned = 0;
/** A processor in a child process; with IT_LOG_DIR set, its log goes to a file there. */
export function spawnProcessor(cfg: Partial<Config>): ChildProcess {
  const dir = process.env.IT_LOG_DIR;
  const out = dir ? openSync(join(dir, `processor-${process.pid}-${++spawned}.log`), 'a') : 'ignore';
  return spawn(process.execPath, [...PROCESSOR_NODE_FLAGS, '--import', 'tsx', 'processor/main.ts'], {
    env: { ...process.env, ...configToEnv(cfg), ...(dir ? { LOG_LEVEL: process.env.IT_LOG_LEVEL ?? 'info' } : {}) },
    stdio: ['ignore', out, 'inherit'],
  });
}

export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** Produces events as the gateway does: topic per type, keyed by visitor, acks=all, in order. */
export async function produce(brokers: string[], topicPrefix: string, events: EnrichedEvent[], chunk = 500): Promise<void> {
  const kafka = new Kafka({ clientId: 'it-producer', brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < events.length; i += chunk) {
      const byTopic = new Map<string, { key: string; value: string }[]>();
      for (const e of events.slice(i, i + chunk)) {
        const topic = topicPrefix + TOPIC_BY_TYPE[e.event_type];
        const list = byTopic.get(topic) ?? [];
        list.push({ key: e.visitor_id, value: JSON.stringify(e) });
        byTopic.set(topic, list);
      }
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * One event far after the input into every topic-partition, so the watermark passes every
 * window and session of the input and everything gets final.
 */
export async function produceClosingEvents(brokers: string[], topicPrefix: string, partitions: number, atMs: number): Promise<void> {
  const kafka = new Kafka({ clientId: 'it-closer', brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (const [type, topic] of Object.entries(TOPIC_BY_TYPE) as [EventType, string][]) {
      const messages = Array.from({ length: partitions }, (_, p) => {
        const e = enriched({
          event_id: `closer-${topic}-${p}`,
          event_type: type,
          timestamp: new Date(atMs).toISOString(),
          visitor_id: `closer-${topic}-${p}`,
          session_id: `closer-${topic}-${p}`,
          url: '/closing',
          revenue: type === 'purchase' ? 1 : null,
        });
        return { partition: p, key: e.visitor_id, value: JSON.stringify(e) };
      });
      await producer.send({ topic: topicPrefix + topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface LogRecord {
  topic: string;
  partition: number;
  offset: bigint;
  event: EnrichedEvent;
}

/** Every record of the four event topics, read back in offset order. */
export async function readLogs(brokers: string[], topicPrefix: string, expected: number, timeoutMs = 60_000): Promise<LogRecord[]> {
  const kafka = new Kafka({ clientId: 'it-reader', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: unique('reader'), maxWaitTimeInMs: 100 });
  const out: LogRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: EVENT_TOPICS.map((t) => topicPrefix + t), fromBeginning: true });
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      out.push({ topic: topic.slice(topicPrefix.length), partition, offset: BigInt(message.offset), event: JSON.parse(message.value!.toString()) });
      if (out.length >= expected) done();
    },
  });
  await Promise.race([finished, new Promise((r) => setTimeout(r, timeoutMs))]);
  await consumer.disconnect();
  if (out.length !== expected) throw new Error(`read ${out.length} records, expected ${expected}`);
  return out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition || Number(a.offset - b.offset));
}

/** The independent computation of every KPI, URL-stats and session document, per partition. */
export function expectedDocs(records: LogRecord[], partitions: number, cfg: Partial<Config>, watermark?: number): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  const windows = windowSpecs({ kpiTumblingS: cfg.kpiTumblingS ?? 60, kpiSlidingSizeS: cfg.kpiSlidingSizeS ?? 300, kpiSlidingStepS: cfg.kpiSlidingStepS ?? 60 });
  for (let p = 0; p < partitions; p++) {
    const logs = EVENT_TOPICS.map((t) => records.filter((r) => r.topic === t && r.partition === p).map((r) => r.event));
    const docs = referenceDocs(logs, {
      partition: p,
      windows,
      urlWindowMs: (cfg.kpiTumblingS ?? 60) * 1000,
      latenessMs: (cfg.kpiAllowedLatenessS ?? 60) * 1000,
      sessionGapMs: (cfg.sessionGapS ?? 1800) * 1000,
      excludeBots: cfg.kpiExcludeBots ?? true,
      watermark,
    });
    for (const [k, v] of docs) out.set(k, v);
  }
  return out;
}

/** Every KPI, URL-stats and session document in Elasticsearch, keyed like `expectedDocs`. */
export async function outputDocs(es: Client, indexPrefix: string): Promise<Map<string, Record<string, unknown>>> {
  const names = indexNames(indexPrefix);
  const out = new Map<string, Record<string, unknown>>();
  for (const [kind, index] of [
    ['kpis', names.kpis],
    ['urlStats', names.urlStats],
    ['sessions', names.sessions],
  ] as const) {
    await es.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true });
    const exists = await es.indices.exists({ index });
    if (!exists) continue;
    for await (const page of es.helpers.scrollSearch<Record<string, unknown>>({ index, size: 2000, query: { match_all: {} } })) {
      for (const h of page.body.hits.hits) {
        const doc = { ...h._source! };
        if (kind === 'urlStats') delete doc.final;
        out.set(`${kind}/${h._id}`, doc);
      }
    }
  }
  return out;
}

/** Differences between two document maps, for a readable failure (first few). */
export function diffDocs(actual: Map<string, unknown>, expected: Map<string, unknown>, max = 5): string[] {
  const out: string[] = [];
  for (const [k, v] of expected) {
    if (!actual.has(k)) out.push(`missing ${k}`);
    else if (!isDeepStrictEqual(actual.get(k), v)) out.push(`differs ${k}: got ${JSON.stringify(actual.get(k))} want ${JSON.stringify(v)}`);
    if (out.length >= max) return out;
  }
  for (const k of actual.keys()) {
    if (!expected.has(k)) out.push(`unexpected ${k}`);
    if (out.length >= max) return out;
  }
  return out;
}

/** Every event in the archive: `${topic}/${partition}/${offset}` -> event (throws on a duplicate). */
export async function archivedEvents(store: ObjectStore, topicPrefix: string): Promise<Map<string, EnrichedEvent>> {
  const out = new Map<string, EnrichedEvent>();
  for (const key of await store.list('type=')) {
    if (!key.endsWith('.parquet')) continue;
    const topic = key
      .slice(key.lastIndexOf('/') + 1)
      .replace(/-\d+-\d+-\d+\.parquet$/, '')
      .slice(topicPrefix.length);
    for (const r of await decodeParquet((await store.get(key))!)) {
      const id = `${topic}/${r.partition}/${r.offset}`;
      if (out.has(id)) throw new Error(`archived twice: ${id} (in ${key})`);
      out.set(id, r.event);
    }
  }
  return out;
}

/** Generated input: recent event times (so no retention applies), in arrival order. */
export function input(seed: number, visitors: number, opts: { late?: boolean } = {}) {
  const start = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
  const events = generateTraffic({
    seed,
    visitors,
    startMs: start,
    spanMs: 90 * 60_000,
    maxDelayMs: 10_000,
    lateShare: opts.late ? 0.01 : 0,
    lateByMs: 5 * 60_000,
    botShare: 0.05,
    maxSessions: 2,
  }).map((g) => g.event);
  const end = Math.max(...events.map((e) => Date.parse(e.timestamp)));
  return { events, closeAt: end + 2 * HOUR };
}

/** Waits until Elasticsearch holds exactly the expected documents (or fails with a diff). */
export async function expectDocs(es: Client, cfg: Partial<Config>, expected: Map<string, Record<string, unknown>>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let diff: string[] = [];
  for (;;) {
    let actual: Map<string, Record<string, unknown>> | null = null;
    try {
      actual = await outputDocs(es, cfg.esIndexPrefix!);
    } catch (err) {
      // An index created a moment ago may have no active shard yet.
      diff = [`search failed: ${(err as Error).message}`];
    }
    if (actual) {
      diff = diffDocs(actual, expected, Number(process.env.IT_MAX_DIFFS ?? 5));
      if (diff.length === 0) return actual;
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect(diff).toEqual([]);
}

export async function waitRawCount(es: Client, cfg: Partial<Config>, n: number, timeoutMs: number) {
  const index = `${cfg.esIndexPrefix}-events-*`;
  // A probe that throws (a daily index being created) counts as not yet.
  await waitFor(
    async () => {
      await es.indices.refresh({ index, allow_no_indices: true, ignore_unavailable: true });
      return (await es.count({ index, allow_no_indices: true, ignore_unavailable: true })).count >= n;
    },
    `${n} raw events`,
    timeoutMs,
  );
}

export async function expectRawEvents(es: Client, cfg: Partial<Config>, records: LogRecord[], timeoutMs: number) {
  const index = `${cfg.esIndexPrefix}-events-*`;
  const ids = new Set(records.map((r) => r.event.event_id));
  const deadline = Date.now() + timeoutMs;
  let count = -1;
  while (Date.now() < deadline) {
    try {
      await es.indices.refresh({ index });
      count = (await es.count({ index })).count;
    } catch (err) {
      // A daily index the processor has just created answers this until its shard has started.
      if (!String((err as Error).message).includes('no_shard_available_action_exception')) throw err;
    }
    if (count === ids.size) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  expect(count).toBe(ids.size);
}

export async function expectArchive(store: ObjectStore, cfg: Partial<Config>, records: LogRecord[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let archived: Map<string, unknown>;
  for (;;) {
    archived = await archivedEvents(store, cfg.topicPrefix!); // throws on any duplicate
    if (archived.size >= records.length || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect(archived.size).toBe(records.length);
  for (const r of records) {
    const got = archived.get(`${r.topic}/${r.partition}/${r.offset}`);
    if (!isDeepStrictEqual(got, r.event)) expect(got).toEqual(r.event);
  }
  // Laid out by type, date and hour, named by partition and offset range.
  for (const key of await store.list('type=')) {
    if (key.startsWith('_')) continue;
    expect(key).toMatch(/^type=(page_view|click|add_to_cart|purchase)\/date=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/.+-\d+-\d+-\d+\.parquet$/);
  }
}
