import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { Acceptor, isIngestRequest, originOf, shedAnswer, type AcceptorMessage } from './acceptor.js';
import { OVERLOAD_HOLD_MS } from './app.js';
import { harness, type Harness } from '../test/harness/gateway-app.js';
import { pageView } from '../test/unit/fixtures.js';
import { waitFor } from '../common/wait.js';

describe('what the acceptor reads of a request', () => {
  test('ingest requests are told apart by their request line only', () => {
    expect(isIngestRequest(Buffer.from('POST /v1/events HTTP/1.1\r\n'))).toBe(true);
    expect(isIngestRequest(Buffer.from('POST /v1/events?site=x HTTP/1.1\r\n'))).toBe(true);
    expect(isIngestRequest(Buffer.from('GET /v1/p.gif?url=a HTTP/1.1\r\n'))).toBe(true);
    expect(isIngestRequest(Buffer.from('POST /v1/eventsx HTTP/1.1\r\n'))).toBe(false);
    expect(isIngestRequest(Buffer.from('OPTIONS /v1/events HTTP/1.1\r\n'))).toBe(false);
    expect(isIngestRequest(Buffer.from('GET /healthz HTTP/1.1\r\n'))).toBe(false);
    expect(isIngestRequest(Buffer.from('POST /v1/even'))).toBe(false);
  });

  test('the Origin is echoed only when it looks like one (no header injection)', () => {
    expect(originOf(Buffer.from('POST /v1/events HTTP/1.1\r\nHost: x\r\nOrigin: https://shop.example\r\n\r\n{}'))).toBe('https://shop.example');
    expect(originOf(Buffer.from('POST /v1/events HTTP/1.1\r\norigin: http://127.0.0.1:8080\r\n\r\n'))).toBe('http://127.0.0.1:8080');
    expect(originOf(Buffer.from('POST /v1/events HTTP/1.1\r\nHost: x\r\n\r\n'))).toBe('');
    expect(originOf(Buffer.from('POST /v1/events HTTP/1.1\r\norigin: https://a.example\u0000x: y\r\n\r\n'))).toBe('');
    // Past the head: a body that mentions an origin is not read as one.
    expect(originOf(Buffer.from('POST /v1/events HTTP/1.1\r\nHost: x\r\n\r\n\r\norigin: https://b.example\r\n'))).toBe('');
  });

  test('the 503 is the gateway catalogue answer, parseable by an HTTP client', () => {
    const raw = shedAnswer('acc-1', 3, 'https://shop.example').toString('latin1');
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(head).toMatch(/\r\nretry-after: 3\r\n/);
    expect(head).toMatch(/\r\nconnection: close(\r\n|$)/);
    expect(head).toMatch(/\r\naccess-control-allow-origin: https:\/\/shop\.example\r\n/);
    expect(Number(/content-length: (\d+)/.exec(head)?.[1])).toBe(Buffer.byteLength(body));
    expect(JSON.parse(body)).toMatchObject({ error: { code: 'GW_ERR_OVERLOADED' }, request_id: 'acc-1' });
  });
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on a connection of its own (as a browser arriving), answered in full. */
function request(port: number, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the acceptor in front of a real gateway app', () => {
  let acceptor: Acceptor | undefined;
  let h: Harness | undefined;
  afterEach(async () => {
    h?.kafka.release();
    acceptor?.close();
    await h?.app.close();
  });

  test('hands connections over; sheds new ingest connections itself while the gateway is overloaded; hands them over again once it recovers', { timeout: 60_000 }, async () => {
    const overloads: boolean[] = [];
    acceptor = new Acceptor({ host: '127.0.0.1', port: 0, backlog: 511, maxConnections: 1000, retryAfterMaxS: 5 });
    const a = acceptor;
    // One request in flight at most, so that a second one is shed by the gateway itself.
    h = await harness({ gatewayMaxRequestsInFlight: 1, gatewayProduceTimeoutMs: 20_000 }, undefined, {
      acceptor: {
        onOverload: (on) => {
          overloads.push(on);
          a.onMessage(1, { cmd: 'gw:overload', on });
        },
      },
    });
    const app = h.app;
    await app.ready();
    // The gateway process, in this process: what gateway/server.ts does with the acceptor's messages.
    a.add({
      id: 1,
      send: (m: AcceptorMessage, socket?: net.Socket) => {
        if (m.cmd === 'gw:conn' && socket) {
          app.server.emit('connection', socket);
          if (m.head) socket.emit('data', Buffer.from(m.head, 'latin1'));
          socket.resume();
        } else if (m.cmd === 'gw:shed') app.countAcceptorSheds?.(m.n);
      },
    });
    await a.listen();
    const { port } = a.server.address() as net.AddressInfo;

    // Not ready yet: everything is answered 503 by the acceptor, health checks too.
    const early = await request(port, 'GET', '/healthz');
    expect(early.status).toBe(503);
    expect(JSON.parse(early.body).error.message).toMatch(/no gateway process is ready/);
    a.onMessage(1, { cmd: 'gw:ready' });

    const events = (n: number) => JSON.stringify({ events: Array.from({ length: n }, () => pageView()) });
    h.kafka.hold = true;
    // Handed over: the gateway admits it (Kafka holds the send).
    const admitted = request(port, 'POST', '/v1/events', events(2));
    await waitFor(async () => /gateway_requests_in_flight 1/.test((await app.inject('/metrics')).body), 'the first request admitted', 20_000, 20);
    // Handed over too: shed by the gateway, which closes its connection and says it is overloaded.
    const byGateway = await request(port, 'POST', '/v1/events', events(1));
    expect(byGateway.status).toBe(503);
    expect(byGateway.headers.connection).toBe('close');
    expect(JSON.parse(byGateway.body).error.message).toMatch(/1 requests already in flight/);
    expect(overloads).toEqual([true]);

    // Now the acceptor sheds new ingest connections itself, with the gateway's answer.
    const retryAfters = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const shed = await request(port, 'POST', '/v1/events?site=x', events(1), { origin: 'https://shop.example' });
      expect(shed.status).toBe(503);
      expect(JSON.parse(shed.body).error).toMatchObject({ code: 'GW_ERR_OVERLOADED' });
      expect(JSON.parse(shed.body).error.message).toMatch(/every gateway process is overloaded/);
      expect(shed.headers['access-control-allow-origin']).toBe('https://shop.example');
      expect(shed.headers.connection).toBe('close');
      retryAfters.add(shed.headers['retry-after']!);
    }
    for (const r of retryAfters) expect(Number(r)).toBeGreaterThanOrEqual(1);
    for (const r of retryAfters) expect(Number(r)).toBeLessThanOrEqual(5);
    expect(retryAfters.size).toBeGreaterThan(1);
    expect((await request(port, 'GET', '/v1/p.gif?url=https%3A%2F%2Fshop.example%2F')).status).toBe(503);
    expect(a.shedTotal).toBe(13);
    // Everything else still reaches the gateway, with the bytes the acceptor read: health, and a
    // request with a body (its answer shows the body arrived whole).
    expect((await request(port, 'GET', '/healthz')).status).toBe(200);
    const other = await request(port, 'POST', '/v1/nope', events(3));
    expect(other.status).toBe(404);
    expect(JSON.parse(other.body).error.code).toBe('GW_ERR_NOT_FOUND');

    // Kafka answers: the admitted request is acknowledged; nothing shed for OVERLOAD_HOLD_MS: recovered.
    h.kafka.release();
    expect((await admitted).status).toBe(200);
    await waitFor(() => overloads.length === 2, 'the gateway reports it recovered', OVERLOAD_HOLD_MS * 20, 20);
    expect(overloads).toEqual([true, false]);
    h.kafka.hold = false;
    const after = await request(port, 'POST', '/v1/events', events(1));
    expect(after.status).toBe(200);
    expect(h.kafka.records).toHaveLength(3);
    // The acceptor's sheds reach the gateway's metrics (reported about once a second), counted as ingest 503s.
    await waitFor(async () => /gateway_shed_requests_total\{reason="acceptor"\} 13/.test((await app.inject('/metrics')).body), 'the acceptor sheds in the metrics', 20_000, 50);
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toMatch(/gateway_shed_requests_total\{reason="requests"\} 1/);
  });
});
