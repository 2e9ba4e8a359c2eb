/**
 * Kafka stopped in the middle of a load, against a real broker of this test's own (the shared
 * one of the global set-up stays up for the other tests): clients get 503 quickly and never
 * hang, nothing the gateway acknowledged is lost, and the gateway recovers by itself when
 * Kafka returns, without a restart. Three ways down: a clean stop (SIGTERM), a crash (SIGKILL)
 * and a stall (SIGSTOP: the broker holds its connections open and answers nothing).
 */
import { rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Kafka, logLevel } from 'kafkajs';
import { buildApp } from '../../gateway/app.js';
import { loadConfig } from '../../common/config.js';
import { EVENT_TOPICS } from '../../contracts/topics.js';
import type { ClientEvent } from '../../contracts/event-schema.js';
import { fetchKafka } from '../../infra/fetch.js';
import { KafkaBroker } from '../../infra/kafka.js';
import { ensureTopics } from '../../infra/setup-topics.js';
import { PROJECT_ROOT } from '../../infra/paths.js';
import { addToCart, pageView, purchase, UA } from '../unit/fixtures.js';
import { unique, waitFor } from './helpers.js';
import { sleep } from '../../common/wait.js';
import { freePort } from '../../infra/ports.js';

const PRODUCE_TIMEOUT_MS = 2000;

interface Sample {
  start: number;
  end: number;
  /** 0: no answer before the client's own timeout (or a network error). */
  status: number;
  retryAfter: string | null;
  /** The refusal's code and message (`{error: {code, message}}`), when not a 200. */
  error: { code: string; message: string } | null;
}

/** Clients that post batches of 20 without pause, retrying a refused batch like the SDK does. */
function load(base: string, clients: number) {
  const acked = new Map<string, string>(); // event id -> type
  const samples: Sample[] = [];
  let running = true;
  let hung = 0;
  const loops = Array.from({ length: clients }, async (_, c) => {
    let batch: ClientEvent[] | null = null;
    while (running) {
      batch ??= Array.from({ length: 20 }, (_, i) => (i % 10 === 9 ? addToCart() : i % 19 === 18 ? purchase() : pageView()));
      const start = Date.now();
      let status = 0;
      let retryAfter: string | null = null;
      let error: Sample['error'] = null;
      try {
        const res = await fetch(`${base}/v1/events?site=load`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': c % 2 ? UA.iphone : UA.windowsChrome },
          body: JSON.stringify({ sent_at: Date.now(), events: batch }),
          signal: AbortSignal.timeout(PRODUCE_TIMEOUT_MS * 4),
        });
        status = res.status;
        retryAfter = res.headers.get('retry-after');
        const text = await res.text();
        if (status !== 200) error = (JSON.parse(text) as { error: Sample['error'] }).error;
        if (status === 200) {
          // 200: every event of the batch is accepted or a duplicate of one accepted before.
          for (const e of batch) acked.set(e.event_id, e.type);
          batch = null;
        }
      } catch (err) {
        if ((err as Error).name === 'TimeoutError') hung++;
      }
      samples.push({ start, end: Date.now(), status, retryAfter, error });
      if (status !== 200) await sleep(100); // the SDK backs off; a short pause keeps the test quick
    }
  });
  return {
    acked,
    samples,
    get hung() {
      return hung;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function readAllIds(brokers: string[], topics: string[], expected: number, timeoutMs = 60_000): Promise<string[]> {
  const kafka = new Kafka({ clientId: 'outage-reader', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: unique('outage-reader') });
  const ids: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void ids.push((JSON.parse(message.value!.toString()) as { event_id: string }).event_id) });
  await waitFor(async () => ids.length >= expected, `${expected} events read back`, timeoutMs).catch(() => undefined);
  await sleep(1000); // anything beyond what was expected (duplicates) arrives too
  await consumer.disconnect();
  return ids;
}

describe('gateway with Kafka stopped in the middle of a load', () => {
  let broker: KafkaBroker;
  let app: FastifyInstance;
  let base: string;
  let topicPrefix: string;
  let dir: string;

  beforeAll(async () => {
    const cfg = loadConfig();
    dir = path.join(PROJECT_ROOT, '.data', unique('gw-outage'));
    broker = new KafkaBroker(await fetchKafka(cfg.kafkaVersion), {
      dir,
      port: await freePort(),
      controllerPort: await freePort(),
      heap: '384m',
      defaultPartitions: 3,
      startTimeoutMs: 180_000,
      log: (msg) => console.log(`[outage broker] ${msg}`),
    });
    await broker.start();
    topicPrefix = `${unique('gwout')}_`;
    await ensureTopics(broker.brokers, { prefix: topicPrefix, partitions: 3 });
    app = await buildApp({
      logger: pino({ level: 'error' }),
      config: {
        kafkaBrokers: broker.brokers,
        topicPrefix,
        gatewayProduceTimeoutMs: PRODUCE_TIMEOUT_MS,
        gatewayRetryAfterS: 1,
        gatewayRateLimitIp: 0,
        gatewayRateLimitSite: 0,
      },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 'gateway ready', 60_000);
  }, 300_000);

  afterAll(async () => {
    if (broker?.pid) process.kill(broker.pid, 'SIGCONT'); // in case a stalled run failed half-way
    await app?.close();
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test.each([
    ['stopped (SIGTERM)', 'stop'],
    ['killed (SIGKILL)', 'kill'],
    ['stalled (SIGSTOP, then SIGCONT)', 'stall'],
  ] as const)(
    'Kafka %s: 503 quickly, nothing acknowledged lost, recovery by itself',
    async (_name, how) => {
      const traffic = load(base, 4);
      await waitFor(async () => traffic.acked.size >= 400, 'traffic flowing', 60_000);

      const downAt = Date.now();
      const pid = broker.pid!;
      if (how === 'stall') process.kill(pid, 'SIGSTOP');
      else await (how === 'stop' ? broker.stop() : broker.kill());
      const stoppedAt = Date.now();
      // While Kafka is down: /readyz says so and answers are 503 with Retry-After, fast.
      await waitFor(async () => (await fetch(`${base}/readyz`)).status === 503, '/readyz 503', 30_000);
      // Requests that started once the gateway knew Kafka was down (past the produce timeout).
      const refusedWhileDown = () => traffic.samples.filter((s) => s.start > stoppedAt + PRODUCE_TIMEOUT_MS + 500);
      await waitFor(() => refusedWhileDown().length > 40, 'requests answered while Kafka is down', 60_000, 100);
      const downSamples = refusedWhileDown();
      expect(downSamples.length).toBeGreaterThan(10);
      expect(downSamples.every((s) => s.status === 503)).toBe(true);
      expect(downSamples.every((s) => s.retryAfter !== null && Number(s.retryAfter) >= 1)).toBe(true);
      // Refused at once, not after waiting for Kafka: the gateway's "unavailable" answer, never the
      // one of a send that waited out the produce timeout (what the answer says, not how long it
      // took: timings are not asserted, the machine may be loaded; they are printed below).
      const timedOut = `no acknowledgement within ${PRODUCE_TIMEOUT_MS} ms`;
      expect(downSamples.filter((s) => s.error?.code !== 'GW_ERR_KAFKA_UNAVAILABLE' || s.error.message.includes(timedOut))).toEqual([]);
      const durations = downSamples.map((s) => s.end - s.start).sort((a, b) => a - b);
      // No request hangs, even the ones caught mid-send: each is answered before the client's own
      // timeout (4x the produce timeout), with a 200 or a 503.
      const around = traffic.samples.filter((s) => s.start >= downAt - 1000);
      expect(around.filter((s) => s.status !== 200 && s.status !== 503)).toEqual([]);

      // Kafka back: the gateway takes events again on its own.
      const ackedBefore = traffic.acked.size;
      if (how === 'stall') process.kill(pid, 'SIGCONT');
      else await broker.start();
      const upAt = Date.now();
      await waitFor(async () => traffic.acked.size > ackedBefore + 200, 'traffic acknowledged again after the restart', 90_000, 200);
      const recoveredIn = Date.now() - upAt;
      await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, '/readyz 200', 30_000);
      await sleep(1000);
      await traffic.stop();
      console.log(
        `[outage ${how}] acked ${traffic.acked.size} events; ${downSamples.length} requests refused while down (p95 ${durations[Math.floor(durations.length * 0.95)]} ms); recovered ${recoveredIn} ms after Kafka was back`,
      );

      expect(traffic.hung).toBe(0);
      const ids = await readAllIds(broker.brokers, EVENT_TOPICS.map((t) => topicPrefix + t), traffic.acked.size);
      const stored = new Set(ids);
      const lost = [...traffic.acked.keys()].filter((id) => !stored.has(id));
      expect(lost).toEqual([]);
      const doubled = ids.length - stored.size;
      console.log(`[outage ${how}] ${ids.length} records for ${stored.size} distinct events (${doubled} doubled, left to the processor's idempotent writes)`);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/gateway_produce_failures_total\{reason="unavailable"\} [1-9]/);
      expect(metrics).toMatch(/gateway_kafka_available 1/);
    },
    300_000,
  );
});
