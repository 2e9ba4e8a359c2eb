import type { Client } from '@elastic/elasticsearch';
import { describe, expect, it } from 'vitest';
import { HoldBack, alertsSink } from './alerts-sink.js';
import { anomalyOptionsFromConfig } from '../anomaly/options.js';
import { parseConfig } from '../../contracts/config.js';
import type { AlertOutbox } from '../alerts/outbox.js';
import type { AlertDelivery, AlertDoc } from '../../contracts/documents.js';
import { burstAlert } from '../alerts/alert-docs.js';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { EVENT_TOPICS } from '../../contracts/topics.js';

const click = (visitor: string, t: number, ip = '203.0.113.0'): EnrichedEvent =>
  ({ event_id: `e${visitor}${t}`, event_type: 'click', site_id: 'shop', visitor_id: visitor, session_id: `s-${visitor}`, timestamp: new Date(t).toISOString(), url: 'https://shop.example/p', ip, browser: 'Chrome', is_bot: false }) as EnrichedEvent;

/** An outbox that records what the sink hands it (the outbox itself: ../alerts/outbox.test.ts). */
function recordingOutbox() {
  const created: { id: string; seqNo: number | undefined; delivery: string | null | undefined }[] = [];
  const outbox = {
    initial: (a: AlertDoc): AlertDelivery => ({ delivery: 'pending', delivery_attempts: 0, queued_at: '2026-01-05T10:00:00.000Z', next_attempt_at: `due:${a.alert_id}`, delivered_at: null, delivery_error: null }),
    created: (w: AlertDoc & AlertDelivery, seqNo: number | undefined) => created.push({ id: w.alert_id, seqNo, delivery: w.delivery }),
  } as unknown as AlertOutbox;
  return { outbox, created };
}

describe('alerts sink', () => {
  it('indexes a click burst once under its deterministic id (create), with its pending delivery, and hands only a created one to the outbox', async () => {
    const bulks: unknown[][] = [];
    const client = {
      bulk: async ({ operations }: { operations: unknown[] }) => {
        bulks.push(operations);
        const seen = bulks.length > 1;
        return { errors: false, items: operations.filter((_, i) => i % 2 === 0).map(() => ({ create: { status: seen ? 409 : 201, _seq_no: 7, _primary_term: 1 } })) };
      },
    } as unknown as Client;
    const created: boolean[] = [];
    const { outbox, created: handed } = recordingOutbox();
    const sink = alertsSink({ client, indexPrefix: 'cs-test', detectors: anomalyOptionsFromConfig(parseConfig({})), outbox, onAlert: (_a, c) => created.push(c) });
    const pos = { topic: 'clicks', partition: 0, offset: '0' };
    const t0 = Date.UTC(2026, 0, 5, 10);
    for (let i = 0; i < 30; i++) await sink.add(click('hammer', t0 + i * 200), pos);
    expect(sink.pending()).toBe(1);
    await sink.flush();
    const id = `click_burst|shop|hammer|${new Date(t0 + 7 * 200).toISOString()}`;
    expect(created).toEqual([true]);
    expect(handed).toEqual([{ id, seqNo: 7, delivery: 'pending' }]);
    const ops = bulks[0] as [{ create: { _index: string; _id: string } }, Record<string, unknown>];
    expect(ops[0].create).toEqual({ _index: 'cs-test-alerts', _id: id });
    // The alert and its pending delivery are one write: durable together.
    expect(ops[1]).toMatchObject({ kind: 'click_burst', visitor_id: 'hammer', site_id: 'shop', value: 8, threshold: 8, delivery: 'pending', delivery_attempts: 0, next_attempt_at: `due:${id}` });

    // A replay raises it again: found there (409), its delivery is left to the state it has.
    const again = alertsSink({ client, indexPrefix: 'cs-test', detectors: anomalyOptionsFromConfig(parseConfig({})), outbox, onAlert: (_a, c) => created.push(c) });
    for (let i = 0; i < 30; i++) await again.add(click('hammer', t0 + i * 200), pos);
    await again.flush();
    expect(created).toEqual([true, false]);
    expect(handed).toHaveLength(1);
  });

  it('without a webhook the alert is indexed with no delivery state', async () => {
    const bulks: Record<string, unknown>[][] = [];
    const client = { bulk: async ({ operations }: { operations: Record<string, unknown>[] }) => (bulks.push(operations), { errors: false, items: [{ create: { status: 201 } }] }) } as unknown as Client;
    const sink = alertsSink({ client, indexPrefix: 'cs-test', detectors: anomalyOptionsFromConfig(parseConfig({})), outbox: null });
    const t0 = Date.UTC(2026, 0, 5, 10);
    for (let i = 0; i < 30; i++) await sink.add(click('quiet', t0 + i * 200), { topic: 'clicks', partition: 0, offset: '0' });
    await sink.flush();
    expect(Object.keys(bulks[0][1])).toEqual(Object.keys(burstAlert({ key: 'k', spanMs: 1, count: 1, threshold: 1, floor: 1, populationMedian: 1, populationMad: 0, usual: 0, at: 0, scope: 'visitor', site: 's', entity: 'k' })));
    expect(bulks[0][1]).not.toHaveProperty('delivery');
  });

  it('an alert Elasticsearch refused stays buffered and the flush rejects (nothing handed to the outbox)', async () => {
    const client = { bulk: async () => ({ errors: true, items: [{ create: { status: 429, error: { reason: 'busy' } } }] }) } as unknown as Client;
    const { outbox, created } = recordingOutbox();
    const sink = alertsSink({ client, indexPrefix: 'cs-test', detectors: anomalyOptionsFromConfig(parseConfig({})), outbox });
    const t0 = Date.UTC(2026, 0, 5, 10);
    for (let i = 0; i < 30; i++) await sink.add(click('busy', t0 + i * 200), { topic: 'clicks', partition: 0, offset: '0' });
    await expect(sink.flush()).rejects.toThrow(/alerts not indexed: click_burst\|shop\|busy\|.*: 429 busy/);
    expect(sink.pending()).toBe(1);
    expect(created).toEqual([]);
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
    const sink = alertsSink({ client: {} as Client, indexPrefix: 'cs-test', detectors: anomalyOptionsFromConfig(parseConfig({ ANOMALY_BOT_SESSION_GAP_S: '30' })), outbox: null });
    const t0 = Date.UTC(2026, 0, 5, 10);
    // Partition 2 of the four topics, the three others empty: the partition's time is its clicks'.
    sink.assign(EVENT_TOPICS.map((topic) => ({ topic, partition: 2, committed: topic === 'clicks' ? '100' : null, checkpoint: undefined })));
    for (const topic of EVENT_TOPICS) sink.logOffsets(topic, 2, topic === 'clicks' ? '100' : '0', topic === 'clicks' ? '200' : '0');
    sink.logOffsetsDone();
    for (let i = 0; i < 100; i++) await sink.add(click(`v${i % 7}`, t0 + i * 1000), { topic: 'clicks', partition: 2, offset: String(100 + i) });
    // Longest span: 60 s (ANOMALY_BURST_SPANS 10:8,60:25); the last event at t0 + 99 s.
    expect(sink.committableOffset('clicks', 2)).toBe('139');
    sink.revoke('clicks', 2);
    expect(sink.committableOffset('clicks', 2)).toBeUndefined();
  });
});
