/**
 * A broker killed under load, on a 3-node KRaft cluster of this test's own (startKafkaCluster, as
 * `KAFKA_NODES=3` starts it): topics with replication 3 and min.insync.replicas 2. The leader of a
 * busy partition gets SIGKILL while clients post batches through the gateway and the processor
 * indexes and archives them; the gateway keeps answering (a 503 only with Retry-After), the node
 * comes back and catches up (back in every partition's in-sync replicas), and every acknowledged
 * event is in Elasticsearch and in the archive, none twice.
 *
 * Then, on the same cluster, the node coordinating the index role's consumer group is SIGKILLed
 * (the first test kills it only when it happens to lead the busy partition): the role must go on
 * writing while that node is down. Before the fix it wrote nothing from the kill until the node
 * was back: the flush in flight waited for its offset commit, which kafkajs retried against the
 * dead coordinator for as long as it was down (processor/commit-offsets.ts), and no later flush
 * could start; `/readyz` said ready all along.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Kafka, logLevel } from 'kafkajs';
import type { Client } from '@elastic/elasticsearch';
import { buildApp } from '../../gateway/app.js';
import { esFromConfig } from '../../common/es-client.js';
import { startKafkaCluster, type KafkaCluster } from '../../infra/services.js';
import { installTemplates } from '../../infra/setup-indices.js';
import { PROJECT_ROOT } from '../../infra/paths.js';
import { roleGroupId, startProcessor } from '../../processor/main.js';
import { ensureTopics } from '../../infra/setup-topics.js';
import { LocalObjectStore } from '../../processor/archive/object-store.js';
import { archivedEvents } from '../harness/it-harness.js';
import { EVENT_TOPICS } from '../../contracts/topics.js';
import type { ClientEvent } from '../../contracts/event-schema.js';
import { pageView, UA } from '../unit/fixtures.js';
import { freePort } from '../../infra/ports.js';
import { esCount, unique, waitFor } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = path.join(PROJECT_ROOT, '.data', unique('failover'));
const archiveDir = mkdtempSync(path.join(tmpdir(), 'failover-archive-'));
const topicPrefix = `${unique('fo')}_`;
const indexPrefix = `${inject('indexPrefix')}-${unique('fo').toLowerCase()}`;
const coordPrefix = `${unique('fc')}_`;
const coordIndexPrefix = `${inject('indexPrefix')}-${unique('fc').toLowerCase()}`;
let cluster: KafkaCluster;
let app: FastifyInstance;
let base: string;
let es: Client;

beforeAll(async () => {
  const ports = [];
  for (let i = 0; i < 3; i++) ports.push({ port: await freePort(), controllerPort: await freePort() });
  cluster = await startKafkaCluster({ dataDir: dir, fresh: true, ports, partitions: 3, topicPrefix, heap: '320m', log: (m) => console.log(`[cluster] ${m}`) });
  es = esFromConfig({ esUrl: inject('esUrl'), esUsername: '', esPassword: '', esApiKey: '' });
  await installTemplates('', indexPrefix, { client: es });
  app = await buildApp({
    logger: pino({ level: 'error' }),
    config: { kafkaBrokers: cluster.brokers, topicPrefix, gatewayProduceTimeoutMs: 3000, gatewayRetryAfterS: 1, gatewayRateLimitIp: 0, gatewayRateLimitSite: 0 },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 'gateway ready', 60_000);
}, 300_000);

afterAll(async () => {
  await app?.close();
  for (const p of [indexPrefix, coordIndexPrefix]) await es?.indices.delete({ index: `${p}-*`, ignore_unavailable: true, allow_no_indices: true }).catch(() => {});
  await es?.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(archiveDir, { recursive: true, force: true });
});

interface Attempt {
  at: number;
  status: number;
  retryAfter: string | null;
}

/** Clients posting batches of 20 to the gateway at `url` without pause, retrying a refused batch as the SDK does. */
function load(clients: number, url = base) {
  const acked = new Set<string>();
  const sent = new Set<string>();
  /** Event ids of batches that got a non-200 answer at least once (written or not: ambiguous). */
  const ambiguous = new Set<string>();
  const attempts: Attempt[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async (_, c) => {
    let batch: ClientEvent[] | null = null;
    while (running) {
      batch ??= Array.from({ length: 20 }, () => pageView({ visitor_id: `fo-${c}-${Math.floor(Math.random() * 50)}` }));
      for (const e of batch) sent.add(e.event_id);
      let status: number;
      let retryAfter: string | null = null;
      try {
        const res = await fetch(`${url}/v1/events?site=failover`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': UA.windowsChrome },
          body: JSON.stringify({ sent_at: Date.now(), events: batch }),
          signal: AbortSignal.timeout(20_000),
        });
        status = res.status;
        retryAfter = res.headers.get('retry-after');
        await res.arrayBuffer();
      } catch {
        status = 0;
      }
      attempts.push({ at: Date.now(), status, retryAfter });
      if (status === 200) {
        for (const e of batch) acked.add(e.event_id);
        batch = null;
      } else {
        for (const e of batch) ambiguous.add(e.event_id);
        await sleep(200);
      }
    }
  });
  return {
    acked,
    sent,
    ambiguous,
    attempts,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function partitionsOf(admin: ReturnType<Kafka['admin']>) {
  const meta = await admin.fetchTopicMetadata({ topics: EVENT_TOPICS.map((t) => topicPrefix + t) });
  return meta.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, ...p })));
}

test('SIGKILL of a busy partition\'s leader under load: the gateway keeps answering, the node catches up, every acknowledged event once in every output', async () => {
  const admin = new Kafka({ clientId: 'failover-test', brokers: cluster.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const processor = await startProcessor({
    kafkaBrokers: cluster.brokers,
    topicPrefix,
    esUrl: inject('esUrl'),
    esIndexPrefix: indexPrefix,
    processorGroupId: unique('fo-group'),
    processorRoles: ['index', 'archive'],
    processorMetricsPort: 0,
    processorSessionTimeoutMs: 8000,
    processorFlushIntervalMs: 200,
    archiveBackend: 'local',
    archiveDir,
    archiveMaxEvents: 400,
    archiveMaxAgeS: 1,
    esRetentionIntervalS: 0,
    esSnapshotIntervalS: 0,
    // kafkajs logs every refused connection to the dead node as an error: expected here.
    logLevel: 'fatal',
  });
  const traffic = load(4);
  try {
    const parts = await partitionsOf(admin);
    expect(parts.every((p) => p.replicas.length === 3 && p.isr.length === 3)).toBe(true);
    const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topicPrefix + 'page_views', configNames: ['min.insync.replicas'] }] });
    expect(configs.resources[0].configEntries[0].configValue).toBe('2');

    await waitFor(async () => traffic.acked.size >= 2000, 'load to flow', 60_000);
    const victimId = parts.find((p) => p.topic === topicPrefix + 'page_views' && p.partitionId === 0)!.leader;
    const victim = cluster.nodes.find((n) => n.nodeId === victimId)!;
    const ackedBefore = traffic.acked.size;
    const killedAt = Date.now();
    await victim.kill();
    console.log(`[failover] SIGKILL node ${victimId} (leader of page_views-0) after ${ackedBefore} acknowledged events`);

    // Load goes on with one node down: leadership moves, writes still reach 2 in-sync replicas.
    await waitFor(async () => traffic.acked.size >= ackedBefore + 2000, 'events acknowledged with a node down', 90_000);
    const firstOkAfterKill = traffic.attempts.find((a) => a.at > killedAt && a.status === 200)!.at;
    await sleep(3000);
    const restartAt = Date.now();
    await victim.start();
    await waitFor(async () => (await partitionsOf(admin)).every((p) => p.isr.includes(victimId)), 'the restarted node back in every in-sync replica set', 90_000, 500);
    const caughtUpS = (Date.now() - restartAt) / 1000;
    await sleep(2000);
    await traffic.stop();

    const after = traffic.attempts.filter((a) => a.at >= killedAt);
    const refused = after.filter((a) => a.status !== 200);
    console.log(
      `[failover] after the kill: ${after.length} requests, ${refused.length} refused; first 200 ${((firstOkAfterKill - killedAt) / 1000).toFixed(1)} s after the kill; node back in sync ${caughtUpS.toFixed(1)} s after its restart`,
    );
    // The gateway never failed otherwise: a refusal is a 503 with Retry-After, never a hang or a 500.
    expect(refused.filter((a) => a.status !== 503 || !a.retryAfter)).toEqual([]);
    expect(after.some((a) => a.status === 200)).toBe(true);

    // Every acknowledged event reaches Elasticsearch and the archive; nothing appears that was never sent.
    const index = `${indexPrefix}-events-*`;
    // Wait for the acknowledged ids themselves, not a count: refused batches that Kafka stored
    // anyway are indexed too, so the count can pass the acknowledged total while the indexer
    // is still writing the last acknowledged batch.
    const inEs = new Set<string>();
    const missing = (): string[] => [...traffic.acked].filter((id) => !inEs.has(id));
    await waitFor(
      async () => {
        await es.indices.refresh({ index, ignore_unavailable: true, allow_no_indices: true });
        inEs.clear();
        for await (const hit of es.helpers.scrollDocuments<{ event_id: string }>({ index, size: 5000, _source: ['event_id'], query: { match_all: {} } })) inEs.add(hit.event_id);
        return missing().length === 0;
      },
      'every acknowledged event in Elasticsearch',
      120_000,
      2000,
    ).catch(() => undefined); // the assertion below names the missing ids
    expect(missing()).toEqual([]);
    expect([...inEs].filter((id) => !traffic.sent.has(id))).toEqual([]);

    const store = new LocalObjectStore(archiveDir);
    let archived = new Map<string, { event_id: string }>();
    await waitFor(
      async () => {
        archived = await archivedEvents(store, topicPrefix); // throws if an offset is archived twice
        const ids = new Set([...archived.values()].map((e) => e.event_id));
        return [...traffic.acked].every((id) => ids.has(id));
      },
      'every acknowledged event in the archive',
      120_000,
      1000,
    );
    // An id twice in the log (hence the archive) only from a batch retried after an ambiguous answer.
    const seen = new Map<string, number>();
    for (const e of archived.values()) seen.set(e.event_id, (seen.get(e.event_id) ?? 0) + 1);
    const doubled = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
    expect(doubled.filter((id) => !traffic.ambiguous.has(id))).toEqual([]);
    console.log(`[failover] ${traffic.acked.size} acknowledged, ${inEs.size} in Elasticsearch, ${archived.size} archived records, ${doubled.length} ids written twice after a refused (retried) batch`);
    expect(processor.health().ok).toBe(true);
  } finally {
    await traffic.stop();
    await processor.stop();
    await admin.disconnect();
  }
}, 420_000);

/** Java's String.hashCode, as Kafka uses it to place a group on a partition of __consumer_offsets. */
function javaHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** Node id of the leader of the __consumer_offsets partition holding `groupId` (its coordinator). */
async function coordinatorOf(admin: ReturnType<Kafka['admin']>, groupId: string): Promise<number> {
  const meta = await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] });
  const parts = meta.topics[0].partitions;
  const h = javaHash(groupId);
  const p = (h === -2147483648 ? 0 : Math.abs(h)) % parts.length;
  return parts.find((x) => x.partitionId === p)!.leader;
}

test('SIGKILL of the node coordinating the index group: indexing goes on while it is down and everything is indexed after', async () => {
  const admin = new Kafka({ clientId: 'coordfail-test', brokers: cluster.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const groupId = unique('cf-group');
  // Topics, indices and a gateway of this test's own: the first test's events are not in its counts.
  await ensureTopics(cluster.brokers, { prefix: coordPrefix, partitions: 3, replication: 3 });
  await installTemplates('', coordIndexPrefix, { client: es });
  const gateway = await buildApp({
    logger: pino({ level: 'error' }),
    config: { kafkaBrokers: cluster.brokers, topicPrefix: coordPrefix, gatewayProduceTimeoutMs: 3000, gatewayRetryAfterS: 1, gatewayRateLimitIp: 0, gatewayRateLimitSite: 0 },
  });
  await gateway.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(gateway.server.address() as net.AddressInfo).port}`;
  await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 'gateway ready', 60_000);
  const processor = await startProcessor({
    kafkaBrokers: cluster.brokers,
    topicPrefix: coordPrefix,
    esUrl: inject('esUrl'),
    esIndexPrefix: coordIndexPrefix,
    processorGroupId: groupId,
    processorRoles: ['index'],
    processorMetricsPort: 0,
    processorSessionTimeoutMs: 8000,
    processorFlushIntervalMs: 200,
    processorStallS: 10,
    esRetentionIntervalS: 0,
    esSnapshotIntervalS: 0,
    logLevel: (process.env.IT_LOG_LEVEL as 'debug' | undefined) ?? 'fatal',
  });
  const traffic = load(2, url);
  const index = `${coordIndexPrefix}-events-*`;
  try {
    await waitFor(async () => (await esCount(es, index)) >= 2000, 'indexing to flow', 60_000, 500);
    const victimId = await coordinatorOf(admin, roleGroupId({ processorGroupId: groupId }, 'index'));
    const victim = cluster.nodes.find((n) => n.nodeId === victimId)!;
    await victim.kill();
    const killedAt = Date.now();
    const atKill = await esCount(es, index);
    console.log(`[coordfail] SIGKILL node ${victimId} (coordinator of the index group) with ${atKill} events indexed, ${traffic.acked.size} acknowledged`);
    const samples: string[] = [];
    let indexedWhileDown = false;
    for (let t = 0; t < 40; t++) {
      await sleep(1000);
      const c = await esCount(es, index);
      samples.push(`${t + 1}s:${c}/${traffic.acked.size}${processor.health().ok ? '' : '!'}`);
      if (c >= atKill + 500) {
        indexedWhileDown = true;
        break;
      }
    }
    console.log(`[coordfail] while down (indexed/acknowledged, ! = not ready): ${samples.join(' ')}`);
    const downHealth = processor.health();
    await victim.start();
    console.log(`[coordfail] node ${victimId} back ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
    await sleep(3000);
    await traffic.stop();
    let last = 0;
    const waitFrom = Date.now();
    // Waits for the acknowledged ids themselves, not a count: events sent but never answered may be
    // stored too, so the count can pass the acknowledged number while some acknowledged ids are
    // still on their way (a run ended its wait with 18,707 indexed for 18,700 acknowledged, 8 of them
    // not yet there).
    const ok = await waitFor(
      async () => {
        last = await esCount(es, index);
        if (last < traffic.acked.size) return false;
        const seen = new Set<string>();
        for await (const hit of es.helpers.scrollDocuments<{ event_id: string }>({ index, size: 5000, _source: ['event_id'], query: { match_all: {} } })) seen.add(hit.event_id);
        return [...traffic.acked].every((id) => seen.has(id));
      },
      'every acknowledged event indexed',
      60_000,
      1000,
    ).then(
      () => true,
      () => false,
    );
    console.log(`[coordfail] load stopped: ${last} of ${traffic.acked.size} acknowledged events indexed ${((Date.now() - waitFrom) / 1000).toFixed(1)} s later; readiness while down ${JSON.stringify(downHealth)}, now ${JSON.stringify(processor.health())}`);
    const inEs = new Set<string>();
    for await (const hit of es.helpers.scrollDocuments<{ event_id: string }>({ index, size: 5000, _source: ['event_id'], query: { match_all: {} } })) inEs.add(hit.event_id);
    const missing = [...traffic.acked].filter((id) => !inEs.has(id));
    expect(indexedWhileDown).toBe(true);
    expect(missing).toEqual([]);
    expect([...inEs].filter((id) => !traffic.sent.has(id))).toEqual([]);
    expect(ok).toBe(true);
  } finally {
    await traffic.stop();
    await Promise.race([processor.stop(), sleep(30_000).then(() => console.log('[coordfail] processor.stop() did not return within 30 s'))]);
    await gateway.close();
    await admin.disconnect();
  }
}, 300_000);
