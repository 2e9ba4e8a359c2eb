/**
 * The processor's crash equivalence and scale-out against the real Kafka and Elasticsearch of the
 * global set-up and MinIO: SIGKILLs at random moments and restarts, and three instances in one
 * consumer group with one killed mid-stream, give the same KPI, URL x country and session
 * documents, raw events and archive as the independent computation (test/harness/reference.ts).
 * The runs without crashes are in processor.integration.test.ts.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import type { Client } from '@elastic/elasticsearch';
import { waitFor } from '../common/wait.js';
import { rng } from '../test/harness/traffic.js';
import {
  expectArchive,
  expectDocs,
  expectRawEvents,
  input,
  waitRawCount,
  expectedDocs,
  isolatedConfig,
  killHard,
  produce,
  produceClosingEvents,
  readLogs,
  spawnProcessor,
} from '../test/harness/it-harness.js';
import { processorSuite } from '../test/harness/processor-suite.js';

const suite = processorSuite();
const { brokers, esUrl, children, s3Config, storeFor } = suite;
const PARTITIONS = 3;
let es: Client;
beforeAll(() => {
  es = suite.es;
});

describe('crash equivalence', () => {
  test('SIGKILL at random moments, restart: the same documents and the same archive as the independent computation', async () => {
    const cfg = await isolatedConfig(brokers, esUrl, PARTITIONS, { processorBatchSize: 200 });
    Object.assign(cfg, s3Config(cfg.topicPrefix!.replace(/_$/, '')));
    const { events, closeAt } = input(202, 1500);
    const r = rng(7);
    const rawIndex = `${cfg.esIndexPrefix}-events-*`;
    const progress = async () => {
      try {
        await es.indices.refresh({ index: rawIndex, allow_no_indices: true, ignore_unavailable: true });
        return (await es.count({ index: rawIndex, allow_no_indices: true, ignore_unavailable: true })).count;
      } catch {
        return 0; // a daily index being created
      }
    };
    // Input keeps arriving while the processor runs and is killed: after each third of the
    // input, one kill at a random moment after the processor has made progress (it dies
    // mid-work, with open windows and sessions, unwritten archive chunks and uncommitted
    // offsets), and one at a random moment after the restart.
    let child = spawnProcessor(cfg);
    children.push(child);
    const killedAt: number[] = [];
    const third = Math.ceil(events.length / 3);
    for (let i = 0; i < events.length; i += third) {
      await produce(brokers, cfg.topicPrefix!, events.slice(i, i + third));
      for (let k = 0; k < 2; k++) {
        if (k === 0) {
          const before = await progress();
          // No progress within 30 s means what was produced is indexed already: kill anyway.
          await waitFor(async () => (await progress()) > before, 'progress', 30_000, 100).catch(() => undefined);
          await new Promise((res) => setTimeout(res, Math.floor(r() * 1500)));
        } else {
          // Any moment: while starting, restoring, replaying or consuming.
          await new Promise((res) => setTimeout(res, 500 + Math.floor(r() * 6000)));
        }
        await killHard(child);
        killedAt.push(await progress());
        child = spawnProcessor(cfg);
        children.push(child);
      }
    }
    const kills = killedAt.length;
    expect(killedAt.some((n) => n > 0 && n < events.length)).toBe(true);
    // The closing events jump event time by hours: produced only once the input is read, as the
    // gateway never writes events from the future (see ARCHITECTURE.md, watermark assumption).
    await waitRawCount(es, cfg, events.length, 180_000);
    await produceClosingEvents(brokers, cfg.topicPrefix!, PARTITIONS, closeAt);
    const records = await readLogs(brokers, cfg.topicPrefix!, events.length + 4 * PARTITIONS);
    const expected = expectedDocs(records, PARTITIONS, cfg);
    expect(kills).toBeGreaterThanOrEqual(5);
    await expectDocs(es, cfg, expected, 180_000);
    await expectRawEvents(es, cfg, records, 60_000);
    await expectArchive(storeFor(cfg), cfg, records, 60_000);
    await killHard(child);
  }, 600_000);
});

describe('scale-out', () => {
  test('three instances in one group, one killed mid-stream: the same documents as the independent computation', async () => {
    const cfg = await isolatedConfig(brokers, esUrl, PARTITIONS, { processorBatchSize: 200 });
    Object.assign(cfg, s3Config(cfg.topicPrefix!.replace(/_$/, '')));
    const { events, closeAt } = input(303, 1200);
    const instances = [spawnProcessor(cfg), spawnProcessor(cfg), spawnProcessor(cfg)];
    children.push(...instances);
    const half = Math.ceil(events.length / 2);
    await produce(brokers, cfg.topicPrefix!, events.slice(0, half));
    // Mid-stream: the group is consuming (half of the first half indexed) when one instance dies.
    await waitRawCount(es, cfg, Math.ceil(half / 2), 120_000);
    await killHard(instances[1]);
    await produce(brokers, cfg.topicPrefix!, events.slice(half));
    await waitRawCount(es, cfg, events.length, 180_000);
    await produceClosingEvents(brokers, cfg.topicPrefix!, PARTITIONS, closeAt);
    const records = await readLogs(brokers, cfg.topicPrefix!, events.length + 4 * PARTITIONS);
    const expected = expectedDocs(records, PARTITIONS, cfg);
    await expectDocs(es, cfg, expected, 240_000);
    await expectRawEvents(es, cfg, records, 60_000);
    await expectArchive(storeFor(cfg), cfg, records, 60_000);
    for (const c of instances) await killHard(c);
  }, 600_000);
});
