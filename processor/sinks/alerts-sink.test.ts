import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@elastic/elasticsearch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HoldBack, alertsSink } from './alerts-sink.js';
import { anomalyOptionsFromConfig } from '../anomaly/options.js';
import { parseConfig } from '../../contracts/config.js';
import { signBody, SIGNATURE_HEADER, ALERT_ID_HEADER, deliver } from '../alerts/webhook.js';
import { burstAlert } from '../alerts/alert-docs.js';
import type { EnrichedEvent } from '../../contracts/event-schema.js';

/** A webhook receiver on loopback that refuses the first `failFirst` requests with 503. */
function receiver(failFirst: number) {
  const got: { headers: IncomingMessage['headers']; body: string }[] = [];
  let calls = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      calls++;
      if (calls <= failFirst) {
        res.writeHead(503).end();
        return;
      }
      got.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  return { server, got, calls: () => calls };
}

const click = (visitor: string, t: number, ip = '203.0.113.0'): EnrichedEvent =>
  ({ event_id: `e${visitor}${t}`, event_type: 'click', site_id: 'shop', visitor_id: visitor, session_id: `s-${visitor}`, timestamp: new Date(t).toISOString(), url: 'https://shop.example/p', ip, browser: 'Chrome', is_bot: false }) as EnrichedEvent;

describe('alerts sink and webhook', () => {
  const r = receiver(2);
  let url = '';
  beforeAll(async () => {
    await new Promise<void>((ok) => r.server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise<void>((ok) => r.server.close(() => ok())));

  it('indexes a click burst once under its deterministic id (create) and delivers it signed, after retries', async () => {
    const bulks: unknown[][] = [];
    const client = {
      bulk: async ({ operations }: { operations: unknown[] }) => {
        bulks.push(operations);
        const seen = bulks.length > 1;
        return { errors: false, items: operations.filter((_, i) => i % 2 === 0).map(() => ({ create: { status: seen ? 409 : 201 } })) };
      },
    } as unknown as Client;
    const created: boolean[] = [];
    const delivered: boolean[] = [];
    const sink = alertsSink({
      client,
      indexPrefix: 'cs-test',
      detectors: anomalyOptionsFromConfig(parseConfig({})),
      webhook: { url, secret: 's3cret', timeoutMs: 2000, maxAttempts: 4, baseDelayMs: 10 },
      onAlert: (_a, c) => created.push(c),
      onDelivery: (_a, ok) => delivered.push(ok),
    });
    const pos = { topic: 'clicks', partition: 0, offset: '0' };
    const t0 = Date.UTC(2026, 0, 5, 10);
    for (let i = 0; i < 30; i++) await sink.add(click('hammer', t0 + i * 200), pos);
    expect(sink.pending()).toBe(1);
    await sink.flush();
    expect(created).toEqual([true]);
    expect(delivered).toEqual([true]);
    expect(r.calls()).toBe(3); // two 503s, then accepted
    const ops = bulks[0] as [{ create: { _index: string; _id: string } }, Record<string, unknown>];
    expect(ops[0].create).toEqual({ _index: 'cs-test-alerts', _id: `click_burst|shop|hammer|${new Date(t0 + 7 * 200).toISOString()}` });
    expect(ops[1]).toMatchObject({ kind: 'click_burst', visitor_id: 'hammer', site_id: 'shop', value: 8, threshold: 8 });
    const { headers, body } = r.got[0];
    expect(headers[SIGNATURE_HEADER]).toBe(signBody('s3cret', body));
    expect(headers[ALERT_ID_HEADER]).toBe(ops[0].create._id);
    expect(JSON.parse(body).alert_id).toBe(ops[0].create._id);
  });

  it('delivers also when nobody listens for delivery outcomes (the processor passes no onDelivery)', async () => {
    const ok = receiver(0);
    await new Promise<void>((done) => ok.server.listen(0, '127.0.0.1', done));
    const client = { bulk: async ({ operations }: { operations: unknown[] }) => ({ errors: false, items: operations.filter((_, i) => i % 2 === 0).map(() => ({ create: { status: 201 } })) }) } as unknown as Client;
    const sink = alertsSink({
      client,
      indexPrefix: 'cs-test',
      detectors: anomalyOptionsFromConfig(parseConfig({})),
      webhook: { url: `http://127.0.0.1:${(ok.server.address() as AddressInfo).port}/`, secret: 'k', timeoutMs: 2000, maxAttempts: 1 },
    });
    const t0 = Date.UTC(2026, 0, 5, 10);
    for (let i = 0; i < 30; i++) await sink.add(click('quiet', t0 + i * 200), { topic: 'clicks', partition: 0, offset: '0' });
    await sink.flush();
    expect(ok.got.map((g) => g.headers[ALERT_ID_HEADER])).toEqual([`click_burst|shop|quiet|${new Date(t0 + 7 * 200).toISOString()}`]);
    await new Promise<void>((done) => ok.server.close(() => done()));
  });

  it('a delivery that never succeeds gives up after maxAttempts and says so', async () => {
    const dead = receiver(1000);
    await new Promise<void>((ok) => dead.server.listen(0, '127.0.0.1', ok));
    const u = `http://127.0.0.1:${(dead.server.address() as AddressInfo).port}/`;
    const a = burstAlert({ key: 'k', spanMs: 10_000, count: 9, threshold: 8, floor: 8, populationMedian: 1, populationMad: 0, usual: 0, at: 0, scope: 'visitor', site: 's', entity: 'k' });
    expect(await deliver(a, { url: u, secret: '', timeoutMs: 1000, maxAttempts: 3, baseDelayMs: 5 })).toBe(false);
    expect(dead.calls()).toBe(3);
    await new Promise<void>((ok) => dead.server.close(() => ok()));
  });
});

describe('the alerts sink holds the commit back to what its detectors need replayed', () => {
  it('per topic-partition: the first event of the last hold span of event time, whatever the rate', () => {
    let now = 0;
    const h = new HoldBack(60_000, () => now);
    const t0 = Date.UTC(2026, 0, 5, 10);
    // 10 events per second for 3 minutes on clicks/0; a late event does not move the hold back.
    for (let i = 0; i < 1800; i++) h.add({ topic: 'clicks', partition: 0, offset: String(i) }, t0 + i * 100 - (i === 1500 ? 90_000 : 0));
    h.add({ topic: 'clicks', partition: 1, offset: '7' }, t0);
    // Running max at offset 1799 is t0 + 179.9 s: events from t0 + 119 s on (offset 1190) are kept.
    expect(h.offset('clicks', 0)).toBe('1190');
    expect(h.offset('clicks', 1)).toBe('7');
    expect(h.offset('page_views', 0)).toBeUndefined();
    now = 59_999;
    expect(h.offset('clicks', 0)).toBe('1190');
    now = 60_000; // a minute of wall clock without an event: nothing is under way any more
    expect(h.offset('clicks', 0)).toBeUndefined();
    h.add({ topic: 'clicks', partition: 0, offset: '1800' }, t0 + 180_000);
    expect(h.offset('clicks', 0)).toBe('1200'); // held again, from t0 + 120 s
    h.drop('clicks', 0);
    expect(h.offset('clicks', 0)).toBeUndefined();
    // After a drop the partition starts afresh (the next event's second is the first held), also
    // when it was the last one added to; the other partition keeps its own.
    h.add({ topic: 'clicks', partition: 0, offset: '5000' }, t0);
    expect(h.offset('clicks', 0)).toBe('5000');
    h.add({ topic: 'clicks', partition: 1, offset: '8' }, t0 + 1000);
    h.add({ topic: 'clicks', partition: 0, offset: '5001' }, t0 + 2000);
    expect(h.offset('clicks', 1)).toBe('7');
    expect(h.offset('clicks', 0)).toBe('5000');
  });

  it('the sink reports it for the partitions it was given', async () => {
    const sink = alertsSink({ client: {} as Client, indexPrefix: 'cs-test', detectors: anomalyOptionsFromConfig(parseConfig({ ANOMALY_BOT_SESSION_GAP_S: '30' })), webhook: null });
    const t0 = Date.UTC(2026, 0, 5, 10);
    for (let i = 0; i < 100; i++) await sink.add(click(`v${i % 7}`, t0 + i * 1000), { topic: 'clicks', partition: 2, offset: String(100 + i) });
    // Longest span: 60 s (ANOMALY_BURST_SPANS 10:8,60:25); the last event at t0 + 99 s.
    expect(sink.committableOffset('clicks', 2)).toBe('139');
    sink.revoke('clicks', 2);
    expect(sink.committableOffset('clicks', 2)).toBeUndefined();
  });
});
