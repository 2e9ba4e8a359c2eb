import net from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { Acceptor, type AcceptorMessage } from './acceptor.js';
import { harness, type Harness } from '../test/harness/gateway-app.js';
import { waitFor } from '../common/wait.js';
import { postOnNewConnection as post } from '../test/harness/acceptor-post.js';

let acceptor: Acceptor | undefined;
let h: Harness | undefined;
afterEach(async () => {
  acceptor?.close();
  await h?.app.close();
});

test('the acceptor reports its sheds with how many had a process with room but a full channel; the gateway counts those as acceptor_busy', { timeout: 30_000 }, async () => {
  // As a process behind the acceptor (that is where the acceptor's sheds are counted).
  h = await harness({}, undefined, { acceptor: { onOverload: () => {}, onRoom: () => {} } });
  const app = h.app;
  await app.ready();
  const reports: Extract<AcceptorMessage, { cmd: 'gw:shed' }>[] = [];
  acceptor = new Acceptor({ host: '127.0.0.1', port: 0, backlog: 511, maxConnections: 100, retryAfterMaxS: 2 });
  acceptor.add({
    id: 1,
    // Takes the first hand-over and never acknowledges it: its channel stays full, though it has room.
    send: (m, socket) => {
      if (m.cmd === 'gw:conn') socket?.destroy();
      if (m.cmd !== 'gw:shed') return;
      reports.push(m);
      // What gateway/server.ts does with it.
      if (m.n > 0) app.countAcceptorSheds?.(m.n, m.busy);
    },
  });
  acceptor.onMessage(1, { cmd: 'gw:ready' });
  await acceptor.listen();
  const { port } = acceptor.server.address() as net.AddressInfo;
  expect(await post(port)).toBe('');
  // Past the hand-over's bound the channel is closed to new connections: busy sheds.
  await new Promise((r) => setTimeout(r, 40));
  for (let i = 0; i < 3; i++) expect(await post(port)).toMatch(/^HTTP\/1\.1 503 [\s\S]*no gateway process could take a new connection in time/);
  // No room (a saturated loop) counts as overloaded, as does shedding.
  acceptor.onMessage(1, { cmd: 'gw:room', n: 0 });
  expect(await post(port)).toMatch(/^HTTP\/1\.1 503 [\s\S]*every gateway process is overloaded/);
  acceptor.onMessage(1, { cmd: 'gw:overload', on: true });
  expect(await post(port)).toMatch(/^HTTP\/1\.1 503 [\s\S]*every gateway process is overloaded/);

  // Reported about once a second.
  await waitFor(() => reports.reduce((n, r) => n + r.n, 0) === 5, 'the five sheds reported', 10_000, 20);
  expect(reports.reduce((n, r) => n + (r.busy ?? 0), 0)).toBe(3);
  const metrics = (await app.inject('/metrics')).body;
  expect(metrics).toMatch(/gateway_shed_requests_total\{reason="acceptor"\} 2\n/);
  expect(metrics).toMatch(/gateway_shed_requests_total\{reason="acceptor_busy"\} 3\n/);
  // All five are 503s of the ingest route, as the gateway's own sheds are.
  expect(metrics).toMatch(/gateway_requests_total\{route="\/v1\/events",method="POST",status="503"\} 5\n/);
});
