import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { bodyPool } from './bodies.js';
import { closedLoopRun } from './closed-loop.js';
import { parseAnswer } from './raw-http.js';

test.each([
  ['HTTP/1.1 503 Service Unavailable\r\nretry-after: 3\r\ncontent-length: 2\r\n\r\n{}', { status: 503, close: false, retryAfterS: 3 }],
  ['HTTP/1.1 503 Service Unavailable\r\nRetry-After: 12\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', { status: 503, close: true, retryAfterS: 12 }],
  ['HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{"ok":true}', { status: 200, close: false, retryAfterS: 0 }],
])('parseAnswer reads the status, Connection and Retry-After of %j', (raw, answer) => {
  expect(parseAnswer(Buffer.from(raw))).toEqual(answer);
});

test('an answer whose body is not whole yet is not parsed', () => {
  expect(parseAnswer(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{"ok"'))).toBeNull();
});

let server: http.Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A server answering the first request with `first` headers (503), every later one 200; when each request arrived. */
async function serve(first: Record<string, string>) {
  const arrivals: { at: number; socket: unknown }[] = [];
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.push({ at: performance.now(), socket: req.socket });
      if (arrivals.length === 1) res.writeHead(503, { ...first, 'content-length': '2' }).end('{}');
      else res.writeHead(200, { 'content-length': '2' }).end('{}');
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, arrivals };
}

const pool = bodyPool({ size: 4, eventsPerBody: 2, seed: 1 });

test.each([
  ['on the same connection', { 'retry-after': '1' }, true],
  ['on a new connection when the answer closed it', { 'retry-after': '1', connection: 'close' }, false],
])('a 503 with Retry-After: the next request comes after those seconds, %s', async (_name, headers, sameSocket) => {
  const { port, arrivals } = await serve(headers);
  const r = await closedLoopRun(pool, { port, path: '/v1/events', duration: 1.5, connections: 1 });
  expect(r.codes).toMatch(/^503:1 200:\d+$/);
  expect(arrivals.length).toBeGreaterThan(2);
  expect(arrivals[1].at - arrivals[0].at).toBeGreaterThanOrEqual(990);
  expect(arrivals[1].socket === arrivals[0].socket).toBe(sameSocket);
  expect(r.errors).toBe(0);
  expect(r.retryWaits).toBe(1);
});

test('a 503 without Retry-After is followed by the next request at once', async () => {
  const { port, arrivals } = await serve({});
  await closedLoopRun(pool, { port, path: '/v1/events', duration: 0.5, connections: 1 });
  expect(arrivals[1].at - arrivals[0].at).toBeLessThan(400);
});

test('a Retry-After that ends after the run: that connection sends nothing more, on it or on a new one', async () => {
  const { port, arrivals } = await serve({ 'retry-after': '5' });
  const r = await closedLoopRun(pool, { port, path: '/v1/events', duration: 1, connections: 1 });
  expect(arrivals).toHaveLength(1);
  expect(r.codes).toBe('503:1');
  expect(r.retryWaits).toBe(1);
});
