import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { Admission } from './admission.js';
import { stampArrival } from './admission-hooks.js';
import { harness, postEvents, type Harness } from '../test/harness/gateway-app.js';
import { pageView } from '../test/unit/fixtures.js';
import { waitFor } from '../common/wait.js';

const metricsText = async (h: Harness): Promise<string> => (await h.app.inject('/metrics')).body;
const queueOldestS = (metrics: string): number => Number(/gateway_queue_oldest_seconds ([\d.]+)/.exec(metrics)?.[1] ?? 0);

describe('Admission', () => {
  const clock = () => {
    let t = 1000;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  test('refuses once the oldest admitted request has waited past the bound, admits again once it is answered', () => {
    const c = clock();
    const a = new Admission({ maxDelayMs: 1000, maxBytes: 1e9, retryAfterMaxS: 5 }, () => 0, c.now);
    expect(a.check(100)).toBeNull();
    const first = a.enter();
    c.advance(400);
    const second = a.enter();
    c.advance(700);
    expect(a.oldestAgeMs()).toBe(1100);
    expect(a.check(100)).toBe('queue_delay');
    expect(a.leave(first)).toBe(1100);
    // The next oldest has waited 700 ms: under the bound.
    expect(a.oldestAgeMs()).toBe(700);
    expect(a.check(100)).toBeNull();
    expect(a.leave(second)).toBe(700);
    expect(a.oldestAgeMs()).toBe(0);
  });

  test('answered out of order and many of them: the oldest is still found (the queue compacts)', () => {
    const c = clock();
    const a = new Admission({ maxDelayMs: 1000, maxBytes: 1e9, retryAfterMaxS: 5 }, () => 0, c.now);
    const tokens: number[] = [];
    for (let i = 0; i < 5000; i++) {
      tokens.push(a.enter());
      c.advance(1);
    }
    // Answer all but every 1000th, newest first.
    for (const t of [...tokens].reverse()) if (t % 1000 !== 999) a.leave(t);
    expect(a.oldestAgeMs()).toBe(5000 - 999);
    a.leave(tokens[999]);
    expect(a.oldestAgeMs()).toBe(5000 - 1999);
    for (const t of [1999, 2999, 3999, 4999]) a.leave(tokens[t]);
    expect(a.oldestAgeMs()).toBe(0);
    tokens.length = 0;
    const t = a.enter();
    c.advance(5);
    expect(a.oldestAgeMs()).toBe(5);
    a.leave(t);
  });

  test('a request that waited past the bound before it was read is refused; an admitted one is timed from its arrival', () => {
    const c = clock();
    const a = new Admission({ maxDelayMs: 1000, maxBytes: 1e9, retryAfterMaxS: 5 }, () => 0, c.now);
    const acceptedAt = c.now();
    c.advance(1200);
    // Its connection was accepted 1.2 s ago and its first request is read only now (no loop monitor: counted as busy).
    expect(a.check(100, acceptedAt)).toBe('waited');
    expect(a.waitedMs).toBe(1200);
    // 300 ms: let in, and its clock started at the accept.
    expect(a.check(100, c.now() - 300)).toBeNull();
    expect(a.waitedMs).toBe(300);
    const t = a.enter(a.waitedMs);
    expect(a.oldestAgeMs()).toBe(300);
    c.advance(750);
    // 1,050 ms since it arrived, though only 750 ms since it was read: the queue bound applies.
    expect(a.check(100)).toBe('queue_delay');
    expect(a.leave(t)).toBe(1050);
    // Nothing known about when a request arrived: its wait is the loop's estimate (0 without one).
    expect(a.check(100)).toBeNull();
    expect(a.waitedMs).toBe(0);
  });

  test('refuses when the events waiting for Kafka would take longer than the bound at the recent rate', () => {
    const c = clock();
    let waiting = 0;
    const a = new Admission({ maxDelayMs: 1000, maxBytes: 1e9, retryAfterMaxS: 5 }, () => waiting, c.now);
    // Kafka acknowledges 10,000 events/s for two seconds.
    for (let i = 0; i < 20; i++) {
      c.advance(100);
      a.acked(1000, 100);
    }
    waiting = 5000; // half a second of work
    expect(a.expectedDelayMs()).toBeGreaterThan(400);
    expect(a.expectedDelayMs()).toBeLessThan(600);
    expect(a.check(0)).toBeNull();
    waiting = 15_000; // a second and a half
    expect(a.check(0)).toBe('expected_delay');
  });

  /**
   * Traffic as the gateway sees it: every `stepMs`, `perStep` requests of 20 events arrive and are
   * judged; Kafka acknowledges what was sent `rttMs` earlier, up to `drainPerS` events a second
   * (nothing while `stalled`). Returns the reasons of the requests refused.
   */
  const traffic = () => {
    const c = clock();
    let waiting = 0;
    const a = new Admission({ maxDelayMs: 1000, maxBytes: 1e9, retryAfterMaxS: 5 }, () => waiting, c.now);
    const sent: { at: number; events: number }[] = [];
    let credit = 0;
    const run = (ms: number, opts: { reqPerS: number; drainPerS: number; rttMs?: number; stalled?: boolean }) => {
      const shed: string[] = [];
      const stepMs = 1;
      let arrivals = 0;
      for (let t = 0; t < ms; t += stepMs) {
        c.advance(stepMs);
        arrivals += (opts.reqPerS * stepMs) / 1000;
        for (; arrivals >= 1; arrivals--) {
          const why = a.check(0);
          if (why) shed.push(why);
          else {
            waiting += 20;
            sent.push({ at: c.now(), events: 20 });
          }
        }
        if (opts.stalled) continue;
        credit = Math.min(credit + (opts.drainPerS * stepMs) / 1000, opts.drainPerS / 100);
        while (sent.length && sent[0].at <= c.now() - (opts.rttMs ?? 3) && credit >= sent[0].events) {
          const r = sent.shift()!;
          credit -= r.events;
          a.acked(r.events, c.now() - r.at);
          waiting -= r.events;
        }
      }
      return shed;
    };
    return { a, run, waiting: () => waiting };
  };

  test('the drain rate does not collapse after an idle pause: half load resumed after 10 s idle, then a 150 ms Kafka hiccup, sheds nothing', () => {
    const t = traffic();
    // Half load: 1,250 requests/s (25,000 events/s) against a Kafka that drains 50,000.
    expect(t.run(2000, { reqPerS: 1250, drainPerS: 50_000 })).toEqual([]);
    expect(t.run(10_000, { reqPerS: 0, drainPerS: 50_000 })).toEqual([]);
    expect(t.waiting()).toBe(0);
    // Back at half load; 20 ms later Kafka stalls for 150 ms (3,750 events pile up), then catches up.
    expect(t.run(20, { reqPerS: 1250, drainPerS: 50_000 })).toEqual([]);
    expect(t.run(150, { reqPerS: 1250, drainPerS: 50_000, stalled: true })).toEqual([]);
    expect(t.waiting()).toBeGreaterThanOrEqual(3000);
    expect(t.run(1000, { reqPerS: 1250, drainPerS: 50_000 })).toEqual([]);
    // The same right after the stall's first acknowledgement: the estimate is still that of the busy time before the pause.
    expect(t.a.expectedDelayMs()).toBeLessThan(1000);
  });

  test('light traffic, then a burst with a Kafka hiccup: the rate of a mostly idle producer does not read as a slow Kafka', () => {
    const t = traffic();
    // 5 requests/s for 5 s: Kafka busy 3 ms in every 200.
    expect(t.run(5000, { reqPerS: 5, drainPerS: 50_000 })).toEqual([]);
    expect(t.run(10, { reqPerS: 1250, drainPerS: 50_000 })).toEqual([]);
    expect(t.run(120, { reqPerS: 1250, drainPerS: 50_000, stalled: true })).toEqual([]);
    expect(t.run(500, { reqPerS: 1250, drainPerS: 50_000 })).toEqual([]);
  });

  test('still sheds under true overload: arrivals at three times what Kafka drains', () => {
    const t = traffic();
    expect(t.run(1000, { reqPerS: 1250, drainPerS: 50_000 })).toEqual([]);
    expect(t.run(2000, { reqPerS: 0, drainPerS: 50_000 })).toEqual([]);
    // 75,000 events/s offered, 25,000 drained: the backlog grows by 50,000 a second.
    const shed = t.run(3000, { reqPerS: 3750, drainPerS: 25_000 });
    expect(shed.length).toBeGreaterThan(3750);
    expect(shed).toContain('expected_delay');
    // Refused before anyone waited the bound: the backlog stays under about a second of Kafka's work.
    expect(t.waiting()).toBeLessThan(30_000);
  });

  test('a Kafka that stops answering with events waiting: the rate falls and new requests are refused', () => {
    const t = traffic();
    expect(t.run(1000, { reqPerS: 1250, drainPerS: 50_000 })).toEqual([]);
    const shed = t.run(3000, { reqPerS: 1250, drainPerS: 50_000, stalled: true });
    // Refused on the expected delay first, before the oldest request has waited the bound.
    expect(shed[0]).toBe('expected_delay');
    expect(shed.length).toBeGreaterThan(1250);
  });

  test('bounds the bytes held; one request alone is always let in', () => {
    const a = new Admission({ maxDelayMs: 0, maxBytes: 1000, retryAfterMaxS: 5 }, () => 0);
    expect(a.check(5000)).toBeNull();
    a.hold(600);
    expect(a.check(300)).toBeNull();
    a.hold(300);
    expect(a.check(200)).toBe('bytes');
    a.release(600);
    expect(a.check(200)).toBeNull();
    expect(a.bytesHeld).toBe(300);
  });

  test('Retry-After is spread over 1..max seconds', () => {
    const a = new Admission({ maxDelayMs: 1000, maxBytes: 1e9, retryAfterMaxS: 5 }, () => 0);
    const seen = new Set(Array.from({ length: 500 }, () => a.retryAfter()));
    expect([...seen].sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

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
