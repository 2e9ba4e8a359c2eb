import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { Acceptor, type AcceptorMessage } from './acceptor.js';
import { parsePreamble, preamble, relayListener, relayTo, type RelayedPeer } from './acceptor-relay.js';
import { harness, type Harness } from '../test/harness/gateway-app.js';
import { pageView } from '../test/unit/fixtures.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-test-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Answer {
  status: number;
  body: string;
  localPort: number;
  /** The answer's Connection header: a relayed connection's answer closes it. */
  connection: string | undefined;
}

/** One request on a connection of its own, asking to keep it alive (closed once answered); `localPort`: the client's end of it (what the gateway should see as the peer's port). */
function request(port: number, method: string, urlPath: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent: false, headers: { 'content-type': 'application/json', connection: 'keep-alive' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        conn?.destroy();
        resolve({ status: res.statusCode!, body: text, localPort, connection: res.headers.connection });
      });
    });
    let localPort = 0;
    let conn: net.Socket | undefined;
    req.on('socket', (s) => {
      conn = s;
      s.on('connect', () => (localPort = s.localPort!));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the relay preamble', () => {
  test.each([
    [{ address: '127.0.0.1', port: 52_000, family: 'IPv4', at: 1_796_377_254_858.25 }],
    [{ address: '2001:db8::1', port: 1, family: 'IPv6', at: 5 }],
    [{ address: '::ffff:203.0.113.9', port: 65_535, family: 'IPv6', at: 0 }],
  ])('%o is written and read back as itself', (peer: RelayedPeer) => {
    const line = preamble(peer);
    expect(line.endsWith('\n')).toBe(true);
    expect(parsePreamble(line.slice(0, -1))).toEqual(peer);
  });

  test.each(['', 'GET / HTTP/1.1', '127.0.0.1 80 IPv4', '127.0.0.1 80 IPv9 1', 'not.an.ip 80 IPv4 1', '127.0.0.1 123456 IPv4 1', '127.0.0.1 80 IPv4 1 extra', '999.1.1.1 80 IPv4 1'])('%j is not a preamble', (line) => {
    expect(parsePreamble(line)).toBeNull();
  });
});

describe('a relayed connection', () => {
  test('reaches the process with the client\'s address and the bytes already read; a connection without a preamble is closed', async () => {
    const sock = path.join(tmpDir(), 'r.sock');
    const seen: { address?: string; port?: number; family?: string }[] = [];
    const server = http.createServer((req, res) => {
      seen.push({ address: req.socket.remoteAddress, port: req.socket.remotePort, family: req.socket.remoteFamily });
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => res.end(`${req.method} ${req.url} ${body}`));
    });
    const relay = await relayListener(sock, (socket, _peer, rest) => {
      server.emit('connection', socket);
      if (rest.length) socket.emit('data', rest);
      socket.resume();
    });
    cleanups.push(() => relay.close());
    // The acceptor's side: it read the start of the request already, the rest follows from the client.
    const front = net.createServer((client) => {
      client.once('data', (head: Buffer) => {
        client.pause();
        relayTo(sock, client, head, 42, () => client.destroy());
      });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    cleanups.push(() => front.close());
    const { port } = front.address() as net.AddressInfo;
    const a = await request(port, 'POST', '/v1/x?y=1', 'hello');
    expect(a.status).toBe(200);
    expect(a.body).toBe('POST /v1/x?y=1 hello');
    expect(seen).toEqual([{ address: '127.0.0.1', port: a.localPort, family: 'IPv4' }]);

    // Anyone else who reaches the socket without the acceptor's first line is cut off.
    const stranger = net.connect(sock);
    const closed = new Promise<string>((resolve) => {
      let got = '';
      stranger.on('data', (d) => (got += d));
      stranger.on('close', () => resolve(got));
    });
    stranger.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await closed).toBe('');
    expect(seen).toHaveLength(1);
  });
});

describe('the acceptor relays what a busy hand-over channel cannot take', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.app.close();
    h = undefined;
  });

  test('a burst of new connections is served, none shed, each event with its client\'s address; without the relay they are 503s; overloaded, none is relayed', { timeout: 30_000 }, async () => {
    h = await harness();
    const app = h.app;
    await app.ready();
    const relayPath = path.join(tmpDir(), '1.sock');
    const relay = await relayListener(relayPath, (socket, _peer, rest) => {
      app.server.emit('connection', socket);
      if (rest.length) socket.emit('data', rest);
      socket.resume();
    });
    cleanups.push(() => relay.close());
    const acceptor = new Acceptor({ host: '127.0.0.1', port: 0, backlog: 511, maxConnections: 1000, retryAfterMaxS: 2, relay: true });
    cleanups.push(() => acceptor.close());
    // The process takes the first hand-over but never acknowledges it: its channel stays busy.
    acceptor.add({
      id: 1,
      relayPath,
      send: (m: AcceptorMessage, socket?: net.Socket) => {
        if (m.cmd !== 'gw:conn' || !socket) return;
        app.server.emit('connection', socket);
        if (m.head) socket.emit('data', Buffer.from(m.head, 'latin1'));
        socket.resume();
      },
    });
    await acceptor.listen();
    acceptor.onMessage(1, { cmd: 'gw:ready', relay: true });
    const { port } = acceptor.server.address() as net.AddressInfo;
    const events = (n: number) => JSON.stringify({ events: Array.from({ length: n }, () => pageView()) });

    const first = await request(port, 'POST', '/v1/events', events(1));
    expect(first.status).toBe(200);
    expect(first.connection).toBe('keep-alive');
    expect(acceptor.handedTotal).toBe(1);
    // Past the hand-over's bound, the unacknowledged one closes the channel to new connections.
    await new Promise((r) => setTimeout(r, 40));
    const burst = await Promise.all(Array.from({ length: 12 }, () => request(port, 'POST', '/v1/events', events(2))));
    expect(burst.map((b) => b.status)).toEqual(Array(12).fill(200));
    // Each relayed connection carries one request: the client's next comes on a new one.
    expect(burst.map((b) => b.connection)).toEqual(Array(12).fill('close'));
    expect(acceptor.relayedTotal).toBe(12);
    expect(acceptor.handedTotal).toBe(1);
    expect(acceptor.shedTotal).toBe(0);
    const records = h.kafka.records.map((r) => JSON.parse(r.value) as { ip: string | null });
    expect(records).toHaveLength(25);
    // The handed-over connection's events and the relayed ones' carry the same client address.
    expect(new Set(records.map((r) => r.ip)).size).toBe(1);
    expect(records[0].ip).toMatch(/^127\.0\.0\./);

    // Without the relay (as before it), the same burst waits for the channel and is shed.
    acceptor.onMessage(1, { cmd: 'gw:ready' });
    const shed = await Promise.all(Array.from({ length: 3 }, () => request(port, 'POST', '/v1/events', events(1))));
    expect(shed.map((b) => b.status)).toEqual([503, 503, 503]);
    expect(acceptor.shedTotal).toBe(3);

    // With it again but the process overloaded: shed by the acceptor, nothing relayed.
    acceptor.onMessage(1, { cmd: 'gw:ready', relay: true });
    acceptor.onMessage(1, { cmd: 'gw:overload', on: true });
    expect((await request(port, 'POST', '/v1/events', events(1))).status).toBe(503);
    expect(acceptor.relayedTotal).toBe(12);
    expect(h.kafka.records).toHaveLength(25);
  });
});
