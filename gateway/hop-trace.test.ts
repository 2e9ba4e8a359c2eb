import { afterEach, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { coalescingProducer } from './coalescing-producer.js';
import { MemoryProducer } from '../test/harness/gateway-app.js';
import { pageView, UA } from '../test/unit/fixtures.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** The gateway with the group commit in front of an in-memory Kafka that holds every send until released. */
async function build(trace: boolean) {
  const kafka = new MemoryProducer();
  app = await buildApp({ producer: coalescingProducer(kafka), config: { gatewayTraceHops: trace, gatewayRateLimitIp: 0, gatewayRateLimitSite: 0, gatewayMaxLoopLagMs: 0, logLevel: 'silent' } });
  return kafka;
}

const post = (headers: Record<string, string> = {}) =>
  app!.inject({
    method: 'POST',
    url: '/v1/events?site=shop',
    headers: { 'content-type': 'application/json', 'user-agent': UA.iphone, ...headers },
    payload: JSON.stringify({ events: [pageView(), pageView()] }),
  });

/** Server-Timing's entries by name: dur as a number, desc as given. */
function entries(header: string): Map<string, { dur?: number; desc?: string }> {
  const out = new Map<string, { dur?: number; desc?: string }>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().split(';');
    const e: { dur?: number; desc?: string } = {};
    for (const p of params) {
      const [k, v] = p.split('=');
      if (k === 'dur') e.dur = Number(v);
      if (k === 'desc') e.desc = v.replace(/"/g, '');
    }
    out.set(name, e);
  }
  return out;
}

describe('GATEWAY_TRACE_HOPS', () => {
  test('off: no Server-Timing header', async () => {
    await build(false);
    const res = await post();
    expect(res.statusCode).toBe(200);
    expect(res.headers['server-timing']).toBeUndefined();
  });

  test('on: each hop of an ingest request, the Kafka wait of the send that carried it, and what it shared the send with', async () => {
    const kafka = await build(true);
    kafka.hold = true;
    const first = post();
    const second = post({ 'x-trace-sent': String(performance.timeOrigin + performance.now()) });
    // Both are queued: the first's send is held, the second waits for the next group.
    while (kafka.sends < 1) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 30));
    kafka.release();
    kafka.hold = false;
    const [a, b] = await Promise.all([first, second]);
    expect(a.statusCode).toBe(200);
    expect(b.statusCode).toBe(200);
    const ea = entries(String(a.headers['server-timing']));
    const eb = entries(String(b.headers['server-timing']));
    for (const e of [ea, eb]) {
      for (const hop of ['parse', 'work', 'group', 'kafka', 'resume', 'gc']) expect(e.get(hop)?.dur, hop).toBeGreaterThanOrEqual(0);
      expect(Number(e.get('read')?.desc)).toBeGreaterThan(performance.timeOrigin);
    }
    // The first went alone and waited ~30 ms for Kafka; the second waited for it in the group commit.
    expect(ea.get('kafka')!.dur).toBeGreaterThanOrEqual(25);
    expect(ea.get('send')!.desc).toBe('1/2/0');
    expect(eb.get('group')!.dur).toBeGreaterThanOrEqual(25);
    expect(eb.get('send')!.desc).toBe('1/2/1');
  });
});
