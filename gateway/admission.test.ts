import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { stampArrival } from './admission-hooks.js';
import { harness, postEvents, type Harness } from '../test/harness/gateway-app.js';
import { pageView } from '../test/unit/fixtures.js';
import { waitFor } from '../common/wait.js';

const metricsText = async (h: Harness): Promise<string> => (await h.app.inject('/metrics')).body;
const queueOldestS = (metrics: string): number => Number(/gateway_queue_oldest_seconds ([\d.]+)/.exec(metrics)?.[1] ?? 0);

describe('gateway under overload', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    h?.kafka.release(); // never leave a held send behind a failed assertion
    await h?.app.close();
  });

  test('a stalled queue: new requests get 503 GW_ERR_OVERLOADED with a jittered Retry-After, without waiting on Kafka; admitted ones are still answered', { timeout: 30_000 }, async () => {
    h = await harness({ gatewayMaxQueueDelayMs: 200, gatewayProduceTimeoutMs: 10_000 });
    h.kafka.hold = true; // Kafka takes the send but does not answer yet
    const admitted = postEvents(h.app, { events: [pageView()] });
    // Past GATEWAY_MAX_QUEUE_DELAY_MS: the admitted request has waited longer than the bound.
    await waitFor(async () => queueOldestS(await metricsText(h!)) > 0.2, 'the held request older than 200 ms', 10_000, 20);
    const retryAfters = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const shed = await postEvents(h.app, { events: [pageView()] });
      expect(shed.statusCode).toBe(503);
      expect(shed.json().error.code).toBe('GW_ERR_OVERLOADED');
      retryAfters.add(shed.headers['retry-after'] as string);
    }
    expect(retryAfters.size).toBeGreaterThan(1);
    for (const r of retryAfters) expect(Number(r)).toBeGreaterThanOrEqual(1);
    // The pixel is shed too.
    expect((await h.app.inject({ method: 'GET', url: '/v1/p.gif?url=https%3A%2F%2Fshop.example%2F' })).statusCode).toBe(503);
    // Health and metrics are never shed.
    expect((await h.app.inject('/healthz')).statusCode).toBe(200);
    const metrics = (await h.app.inject('/metrics')).body;
    expect(metrics).toMatch(/gateway_shed_requests_total\{reason="queue_delay"\} 31/);
    expect(Number(/gateway_queue_oldest_seconds ([\d.]+)/.exec(metrics)?.[1])).toBeGreaterThan(0.2);

    h.kafka.release();
    expect((await admitted).statusCode).toBe(200);
    // Drained: taken again.
    expect((await postEvents(h.app, { events: [pageView()] })).statusCode).toBe(200);
    expect(h.kafka.records).toHaveLength(2);
    expect((await h.app.inject('/metrics')).body).toMatch(/gateway_queue_seconds_count 2/);
  });

  test('bytes held: a request whose body would pass GATEWAY_MAX_QUEUED_BYTES is shed before it is read', async () => {
    h = await harness({ gatewayMaxQueuedBytes: 3000, gatewayProduceTimeoutMs: 10_000 });
    h.kafka.hold = true;
    const big = { events: Array.from({ length: 10 }, () => pageView()) };
    const admitted = postEvents(h.app, big);
    await waitFor(async () => /gateway_queued_bytes [1-9]/.test(await metricsText(h!)), 'the admitted body counted as held', 10_000, 20);
    const shed = await postEvents(h.app, big);
    expect(shed.statusCode).toBe(503);
    expect(shed.json().error.code).toBe('GW_ERR_OVERLOADED');
    expect((await h.app.inject('/metrics')).body).toMatch(/gateway_shed_requests_total\{reason="bytes"\} 1/);
    h.kafka.release();
    expect((await admitted).statusCode).toBe(200);
  });
});

describe('the shed answer on a real socket', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    h?.kafka.release();
    await h?.app.close();
  });

  test('503 with Retry-After, CORS for the page, counted in the metrics, and the connection kept alive for the next request', { timeout: 30_000 }, async () => {
    h = await harness({ gatewayMaxRequestsInFlight: 1, gatewayProduceTimeoutMs: 10_000 });
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = h.app.server.address() as net.AddressInfo;
    h.kafka.hold = true;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const post = (body: string) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; reused: boolean }>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port, path: '/v1/events?site=x', method: 'POST', agent, headers: { 'content-type': 'application/json', origin: 'https://shop.example' } },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text, reused: req.reusedSocket }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    // The one place in flight, taken by a request whose send Kafka holds (on its own connection).
    const admitted = postEvents(h.app, { events: [pageView()] });
    await new Promise((r) => setTimeout(r, 50));
    // A body that is not even JSON: a shed request's body is never parsed.
    const first = await post('not json at all');
    expect(first.status).toBe(503);
    expect(JSON.parse(first.body).error.code).toBe('GW_ERR_OVERLOADED');
    expect(JSON.parse(first.body).error.message).toMatch(/1 requests already in flight/);
    expect(Number(first.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(first.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(first.headers['access-control-expose-headers']).toMatch(/retry-after/);
    expect(first.headers['x-request-id']).toBe(JSON.parse(first.body).request_id);
    const second = await post(JSON.stringify({ events: [pageView()] }));
    expect(second.status).toBe(503);
    expect(second.reused).toBe(true);
    const metrics = (await h.app.inject('/metrics')).body;
    expect(metrics).toMatch(/gateway_shed_requests_total\{reason="requests"\} 2/);
    expect(metrics).toMatch(/gateway_requests_total\{route="\/v1\/events",method="POST",status="503"\} 2/);
    expect(metrics).toMatch(/gateway_errors_total\{code="GW_ERR_OVERLOADED"\} 2/);
    expect(metrics).toMatch(/gateway_requests_in_flight 1/);
    h.kafka.release();
    expect((await admitted).statusCode).toBe(200);
    // Room again: the same connection carries an accepted request.
    const third = await post(JSON.stringify({ events: [pageView()] }));
    expect(third.status).toBe(200);
    expect(third.reused).toBe(true);
    agent.destroy();
  });
});

describe('admission bookkeeping', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    h?.kafka.release();
    await h?.app.close();
  });

  test('a client that hangs up while its answer is pending frees its place (no permanent shedding)', { timeout: 30_000 }, async () => {
    h = await harness({ gatewayMaxQueueDelayMs: 300, gatewayProduceTimeoutMs: 10_000 });
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = h.app.server.address() as net.AddressInfo;
    h.kafka.hold = true;
    const body = JSON.stringify({ events: [pageView()] });
    // A raw client that sends a request and closes its socket before the answer.
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => {
        sock.write(`POST /v1/events?site=x HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 200);
      });
      sock.on('error', reject);
    });
    h.kafka.release();
    const metrics = await waitFor(async () => {
      const text = await metricsText(h!);
      return /gateway_queued_bytes 0\n/.test(text) && text;
    }, 'the hung-up request released', 10_000, 20);
    expect(metrics).toMatch(/gateway_queued_bytes 0\n/);
    expect(metrics).toMatch(/gateway_queue_oldest_seconds 0\n/);
    expect((await postEvents(h.app, { events: [pageView()] })).statusCode).toBe(200);
  });

  test('GATEWAY_CLOSE_WHILE_OVERLOADED: behind the acceptor, a request arriving while the process is overloaded is answered with connection: close, admitted or not; keep-alive again once it recovers, and without the setting', { timeout: 30_000 }, async () => {
    for (const close of [true, false]) {
      const overloads: boolean[] = [];
      h = await harness({ gatewayMaxQueueDelayMs: 200, gatewayProduceTimeoutMs: 10_000, gatewayCloseWhileOverloaded: close }, undefined, { acceptor: { onOverload: (on) => overloads.push(on) } });
      h.kafka.hold = true;
      const first = postEvents(h.app, { events: [pageView()] });
      await waitFor(async () => queueOldestS(await metricsText(h!)) > 0.2, 'the held request older than 200 ms', 10_000, 20);
      const shed = await postEvents(h.app, { events: [pageView()] });
      expect(shed.statusCode).toBe(503);
      expect(shed.headers.connection).toBe('close');
      expect(overloads).toEqual([true]);
      h.kafka.release();
      h.kafka.hold = false;
      // Admitted before the overload: kept alive.
      expect((await first).headers.connection).not.toBe('close');
      // Admitted while overloaded (its last shed under OVERLOAD_HOLD_MS ago): its connection closed with the setting, so the next request goes to the acceptor.
      const during = await postEvents(h.app, { events: [pageView()] });
      expect(during.statusCode).toBe(200);
      expect(overloads).toEqual([true]);
      expect(during.headers.connection === 'close').toBe(close);
      await waitFor(() => overloads.length === 2, 'recovered', 10_000, 20);
      const after = await postEvents(h.app, { events: [pageView()] });
      expect(after.statusCode).toBe(200);
      expect(after.headers.connection).not.toBe('close');
      await h.app.close();
      h = undefined;
    }
  });

  test('a connection handed over with its head read long ago is shed (waited); one handed over at once is served', { timeout: 30_000 }, async () => {
    h = await harness();
    const app = h.app;
    await app.ready();
    // What gateway/server.ts does with the acceptor's hand-over: the stamp, then the connection.
    let ageMs = 0;
    const front = net.createServer((socket) => {
      stampArrival(socket, performance.now() - ageMs, true);
      app.server.emit('connection', socket);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = front.address() as net.AddressInfo;
      const post = () =>
        fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify({ events: [pageView()] }) });
      ageMs = 5000;
      const late = await post();
      expect(late.status).toBe(503);
      const body = (await late.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('GW_ERR_OVERLOADED');
      expect(body.error.message).toMatch(/before they were read/);
      ageMs = 0;
      expect((await post()).status).toBe(200);
      expect((await app.inject('/metrics')).body).toMatch(/gateway_shed_requests_total\{reason="waited"\} 1\n/);
    } finally {
      await new Promise((resolve) => front.close(resolve));
    }
  });
});
