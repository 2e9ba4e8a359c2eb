/**
 * Errors of Node's HTTP parser answer in the catalogue's shape, over a
 * real socket (app.inject cannot send broken HTTP or stall a body).
 */
import net from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { waitFor } from '../common/wait.js';
import { harness, type Harness } from '../test/harness/gateway-app.js';

let h: Harness;
afterEach(async () => h?.app.close());

/** Writes `raw` to the gateway, then waits for the answer and the close (or the deadline). */
async function exchange(port: number, raw: string, waitMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(out);
    }, waitMs);
    s.on('data', (d) => (out += d.toString()));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.on('error', reject);
    s.write(raw);
  });
}

async function listen(config = {}) {
  h = await harness(config);
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  return (h.app.server.address() as net.AddressInfo).port;
}

const bodyOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));

test.each([
  ['Transfer-Encoding and Content-Length', 'POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n', 400, 'GW_ERR_BAD_REQUEST'],
  ['two Content-Length headers', 'POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n[]', 400, 'GW_ERR_BAD_REQUEST'],
  ['headers over 16 KB', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'GW_ERR_HEADERS_TOO_LARGE'],
])('%s: %s %s', async (_n, raw, status, code) => {
  const port = await listen();
  const answer = await exchange(port, raw);
  expect(answer).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  expect(bodyOf(answer)).toEqual({ error: { code, message: expect.any(String) } });
});

test('headers sent, body stalled: 408 GW_ERR_REQUEST_TIMEOUT after GATEWAY_REQUEST_TIMEOUT_MS, connection closed', async () => {
  const port = await listen({ gatewayRequestTimeoutMs: 500 });
  const answer = await exchange(port, 'POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"events":', 15_000);
  expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  expect(bodyOf(answer)).toEqual({ error: { code: 'GW_ERR_REQUEST_TIMEOUT', message: expect.any(String) } });
  expect(h.kafka.records).toHaveLength(0);
});

test('a body abandoned before its Content-Length is GW_ERR_BODY_INCOMPLETE, not GW_ERR_BATCH_INVALID', async () => {
  const port = await listen();
  await new Promise<void>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.on('close', () => resolve());
    s.write('POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"events":', () => setTimeout(() => s.destroy(), 200));
  });
  const text = await waitFor(async () => {
    const body = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    return body.includes('GW_ERR_BODY_INCOMPLETE') && body;
  }, 'the abandoned body counted', 5_000, 100);
  expect(text).toMatch(/gateway_errors_total\{code="GW_ERR_BODY_INCOMPLETE"\} 1/);
  expect(text).not.toMatch(/code="GW_ERR_BATCH_INVALID"/);
  expect(h.kafka.records).toHaveLength(0);
});
