/**
 * Takeover after crashes, against a Kafka broker of this test's own (it is restarted here; the
 * shared broker stays up): a processor running every role is SIGKILLed and started again
 * repeatedly under a steady load, the broker is SIGKILLed and started again, and the processor
 * killed once more after that (the group the broker reloads still lists the dead member). Each
 * time, every role consumes again within 10 s of the process (or the broker) being back, and at
 * the end every output equals the independent computation: no id missing, none doubled.
 *
 * What made this slow before (379 s without consumption in one such run): a follower's SyncGroup
 * timed out (request timeout 10 s) while the broker waited for a dead leader's session (30 s) to
 * expire, the consumer crash-restarted under a new member id and left one more dead member
 * behind, and so on. See consumerRequestTimeoutMs in processor/consumer.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { Client } from '@elastic/elasticsearch';
import type { Config } from '../contracts/config.js';
import { loadConfig } from '../common/config.js';
import { esFromConfig } from '../common/es-client.js';
import { fetchKafka } from '../infra/fetch.js';
import { KafkaBroker } from '../infra/kafka.js';
import { PROJECT_ROOT } from '../infra/paths.js';
import { objectStoreFromConfig } from './archive/object-store.js';
import { ROLES } from './main.js';
import {
  expectArchive,
  expectDocs,
  expectedDocs,
  expectRawEvents,
  input,
  isolatedConfig,
  killHard,
  produce,
  produceClosingEvents,
  readLogs,
  spawnProcessor,
  waitRawCount,
} from '../test/harness/it-harness.js';
import { rng } from '../test/harness/traffic.js';
import { freePort } from '../infra/ports.js';
import { unique } from '../test/integration/helpers.js';
import { sleep } from '../common/wait.js';

const esUrl = inject('esUrl');
const PARTITIONS = 3;
// Takeover times are measured and printed (the target, under 10 s, is read from the printout and
// the README's figures), never asserted as timings: a shared CI machine can be slow. What is
// asserted is that consumption comes back at all, well before the 379 s stall this test was
// written for.
const STUCK_AFTER_MS = 60_000;

/** Events handed to the sinks per role by the processor answering on `port` (null: not up). */
async function consumed(port: number): Promise<Record<string, number> | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    const out: Record<string, number> = Object.fromEntries(ROLES.map((r) => [r, 0]));
    for (const m of text.matchAll(/^processor_events_total\{[^}]*role="(\w+)"[^}]*\} (\d+)/gm)) out[m[1]] += Number(m[2]);
    return out;
  } catch {
    return null;
  }
}

/** Milliseconds from `since` until every role has consumed more than `base` (or throws after 60 s). */
async function untilEveryRoleConsumes(port: number, base: Record<string, number>, since: number): Promise<number> {
  const deadline = Date.now() + STUCK_AFTER_MS + 30_000;
  for (;;) {
    const now = await consumed(port);
    if (now && ROLES.every((r) => now[r] > (base[r] ?? 0))) return Date.now() - since;
    if (Date.now() > deadline) throw new Error(`a role did not consume again within ${(STUCK_AFTER_MS + 30_000) / 1000} s: ${JSON.stringify(now)}`);
    await sleep(100);
  }
}

describe('takeover', () => {
  let broker: KafkaBroker;
  let dir: string;
  let archiveDir: string;
  let es: Client;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dir = path.join(PROJECT_ROOT, '.data', unique('takeover'));
    archiveDir = mkdtempSync(path.join(tmpdir(), 'takeover-archive-'));
    broker = new KafkaBroker(await fetchKafka(loadConfig().kafkaVersion), {
      dir,
      port: await freePort(),
      controllerPort: await freePort(),
      heap: '384m',
      defaultPartitions: PARTITIONS,
      startTimeoutMs: 180_000,
      log: (msg) => console.log(`[takeover broker] ${msg}`),
    });
    await broker.start();
    es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
  }, 300_000);

  afterAll(async () => {
    for (const c of children) await killHard(c);
    await broker?.stop();
    await es?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (archiveDir) rmSync(archiveDir, { recursive: true, force: true });
  });

  test('repeated processor SIGKILLs and a broker SIGKILL under load: every role consumes again within 10 s each time, outputs exact', async () => {
    const port = await freePort();
    const cfg: Partial<Config> = await isolatedConfig(broker.brokers, esUrl, PARTITIONS, {
      processorBatchSize: 500,
      processorMetricsPort: port,
      // The product's default, unless a run measures another one.
      processorSessionTimeoutMs: Number(process.env.IT_SESSION_TIMEOUT_MS ?? loadConfig().processorSessionTimeoutMs),
      archiveBackend: 'local',
      archiveDir,
    });
    const { events, closeAt } = input(808, 2500);
    const r = rng(11);

    // A steady load until stopped (paused while the broker is down, so nothing is produced twice).
    let produced = 0;
    let loading = true;
    let paused = false;
    const loader = (async () => {
      while (loading && produced < events.length) {
        if (paused) {
          await sleep(50);
          continue;
        }
        const chunk = events.slice(produced, produced + 40);
        await produce(broker.brokers, cfg.topicPrefix!, chunk);
        produced += chunk.length;
        await sleep(100);
      }
    })();

    const back: { what: string; ms: number }[] = [];
    let child = spawnProcessor(cfg);
    children.push(child);
    const startProcess = async (what: string) => {
      child = spawnProcessor(cfg);
      children.push(child);
      // "Back": the process answers on its metrics port (Node started, config read).
      const deadline = Date.now() + STUCK_AFTER_MS + 30_000;
      while (!(await consumed(port))) {
        if (Date.now() > deadline) throw new Error('processor did not start');
        await sleep(50);
      }
      back.push({ what, ms: await untilEveryRoleConsumes(port, {}, Date.now()) });
    };
    await untilEveryRoleConsumes(port, {}, Date.now());

    for (let i = 0; i < 3; i++) {
      await sleep(1000 + Math.floor(r() * 3000));
      await killHard(child);
      await startProcess(`processor SIGKILL ${i + 1}`);
    }

    // The broker dies under load and comes back; the processor goes on in the same process.
    paused = true;
    await sleep(200);
    const before = (await consumed(port))!;
    await broker.kill();
    await sleep(1000);
    await broker.start();
    const brokerBack = Date.now();
    paused = false;
    back.push({ what: 'broker SIGKILL', ms: await untilEveryRoleConsumes(port, before, brokerBack) });

    // And a processor killed right after: the group reloaded by the broker lists it as a member.
    await sleep(1000 + Math.floor(r() * 2000));
    await killHard(child);
    await startProcess('processor SIGKILL after the broker restart');

    loading = false;
    await loader;
    const input_ = events.slice(0, produced);
    console.log(`[takeover] ${produced} events produced; consumption back after: ${back.map((b) => `${b.what} ${b.ms} ms`).join(', ')}`);

    await waitRawCount(es, cfg, new Set(input_.map((e) => e.event_id)).size, 180_000);
    await produceClosingEvents(broker.brokers, cfg.topicPrefix!, PARTITIONS, closeAt);
    const records = await readLogs(broker.brokers, cfg.topicPrefix!, produced + 4 * PARTITIONS);
    await expectDocs(es, cfg, expectedDocs(records, PARTITIONS, cfg), 180_000);
    await expectRawEvents(es, cfg, records, 60_000);
    await expectArchive(objectStoreFromConfig(loadConfig(cfg))!, cfg, records, 60_000);
    await killHard(child);

    expect(back.length).toBe(5);
    for (const b of back) expect(b.ms, b.what).toBeLessThan(STUCK_AFTER_MS);
  }, 900_000);
});
