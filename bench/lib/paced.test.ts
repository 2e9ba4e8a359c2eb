import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { pacedLoad } from './paced.js';

/** A loopback server that answers everything 200 and notes, per request, its method and connection. */
async function server() {
  const seen: { method: string; conn: number }[] = [];
  let conns = 0;
  const ids = new WeakMap<object, number>();
  const s = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', conn: ids.get(req.socket) ?? -1 });
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  s.on('connection', (sock) => ids.set(sock, conns++));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { s, seen, port: (s.address() as AddressInfo).port, connections: () => conns };
}

let open: http.Server | undefined;
afterEach(() => new Promise<void>((r) => (open ? open.close(() => r()) : r())));

const body = () => ({ body: '{"events":[]}', ua: 'test', ip: '127.0.0.1', events: 0 });

test('warm: that many connections are open and answered before the first request is due', async () => {
  const srv = await server();
  open = srv.s;
  const r = await pacedLoad({ port: srv.port, path: '/e', rate: 200, durationS: 0.3, next: body, warm: 6 });
  expect(r.ok).toBe(r.sent);
  const firstPost = srv.seen.findIndex((x) => x.method === 'POST');
  expect(srv.seen.slice(0, firstPost).map((x) => x.method)).toEqual(Array(6).fill('GET'));
  expect(new Set(srv.seen.slice(0, firstPost).map((x) => x.conn)).size).toBe(6);
  // The first request goes out on one of the warmed connections.
  expect(srv.seen[firstPost].conn).toBeLessThan(6);
});

test('connections: a fixed pool, never more connections than it holds', async () => {
  const srv = await server();
  open = srv.s;
  const r = await pacedLoad({ port: srv.port, path: '/e', rate: 400, durationS: 0.3, next: body, connections: 3, warm: 10 });
  expect(r.ok).toBe(r.sent);
  expect(r.sent).toBeGreaterThan(100);
  expect(srv.connections()).toBe(3);
});

test('newConnectionShare: that share of the requests, evenly spread, each on a connection of its own', async () => {
  const srv = await server();
  open = srv.s;
  const r = await pacedLoad({ port: srv.port, path: '/e', rate: 400, durationS: 0.3, next: body, connections: 3, newConnectionShare: 0.25 });
  expect(r.ok).toBe(r.sent);
  const posts = srv.seen.filter((x) => x.method === 'POST');
  const counts = new Map<number, number>();
  for (const p of posts) counts.set(p.conn, (counts.get(p.conn) ?? 0) + 1);
  const single = posts.filter((p) => p.conn >= 3);
  // Every fourth request (the 4th, 8th, ...) came on a connection no other request used.
  expect(single.length).toBe(Math.floor(r.sent / 4));
  expect(single.every((p) => counts.get(p.conn) === 1)).toBe(true);
  expect(srv.connections()).toBe(3 + single.length);
});
