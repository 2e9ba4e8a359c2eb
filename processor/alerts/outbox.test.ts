import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@elastic/elasticsearch';
import { afterEach, describe, expect, it } from 'vitest';
import { alertOutbox, retryDelayMs, type OutboxOptions } from './outbox.js';
import { alertBody, ALERT_ID_HEADER, signBody, SIGNATURE_HEADER } from './webhook.js';
import { burstAlert } from './alert-docs.js';
import { waitFor } from '../../common/wait.js';
import type { AlertDelivery, AlertDoc } from '../../contracts/documents.js';

type Doc = AlertDoc & AlertDelivery;

/**
 * The alerts index in memory, as the outbox uses it: versioned documents, conditional updates
 * (409 on a stale `if_seq_no`) and the one search shape of its poll (pending and due, by due time).
 */
function fakeIndex() {
  const docs = new Map<string, { source: Doc; seqNo: number }>();
  let seq = 0;
  let refreshes = 0;
  const client = {
    update: async ({ id, if_seq_no, doc }: { id: string; if_seq_no: number; doc: Partial<Doc> }) => {
      const d = docs.get(id);
      if (!d || d.seqNo !== if_seq_no) throw Object.assign(new Error('version conflict'), { meta: { statusCode: 409 } });
      d.source = { ...d.source, ...doc };
      d.seqNo = ++seq;
      return { result: 'updated', _seq_no: d.seqNo };
    },
    search: async ({ post_filter }: { post_filter: { bool: { filter: [unknown, { range: { next_attempt_at: { lte: string } } }] } } }) => {
      const due = post_filter.bool.filter[1].range.next_attempt_at.lte;
      const all = [...docs.values()];
      const hits = all
        .filter((d) => d.source.delivery === 'pending' && d.source.next_attempt_at! <= due)
        .sort((a, b) => a.source.next_attempt_at!.localeCompare(b.source.next_attempt_at!))
        .slice(0, 50)
        .map((d) => ({ _id: d.source.alert_id, _source: structuredClone(d.source), _seq_no: d.seqNo, _primary_term: 1 }));
      const count = (s: string) => all.filter((d) => d.source.delivery === s).length;
      return { hits: { hits }, aggregations: { states: { buckets: ['pending', 'dead'].map((key) => ({ key, doc_count: count(key) })).filter((b) => b.doc_count > 0) } } };
    },
    indices: { refresh: async () => void refreshes++ },
  } as unknown as Client;
  return {
    client,
    docs,
    refreshes: () => refreshes,
    /** A `create` of the alert with its delivery fields: its version. */
    create(doc: Doc) {
      docs.set(doc.alert_id, { source: structuredClone(doc), seqNo: ++seq });
      return seq;
    },
    get: (id: string) => docs.get(id)!.source,
  };
}

/** A webhook receiver on loopback answering `status()` to each request, recording those it accepted. */
async function receiver(status: () => number) {
  const got: { id: string; signature: string; body: string }[] = [];
  let calls = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      calls++;
      const s = status();
      if (s < 300) got.push({ id: String(req.headers[ALERT_ID_HEADER]), signature: String(req.headers[SIGNATURE_HEADER]), body });
      res.writeHead(s).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, calls: () => calls, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

const alertAt = (entity: string, at: number) =>
  burstAlert({ key: entity, spanMs: 10_000, count: 9, threshold: 8, floor: 8, populationMedian: 1, populationMad: 0, usual: 0, at, scope: 'visitor', site: 'shop', entity });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function logSink() {
  const lines: { level: string; o: object; msg: string }[] = [];
  const at = (level: string) => (o: object, msg: string) => void lines.push({ level, o, msg });
  return { log: { info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

describe('retry delay', () => {
  it('doubles from the base up to the maximum, jittered to between half and all of it', () => {
    const table = [1, 2, 3, 4, 9, 10, 30].map((n) => [n, retryDelayMs(n, 1000, 300_000, 0), retryDelayMs(n, 1000, 300_000, 0.999_999)]);
    expect(table).toEqual([
      [1, 500, 1000],
      [2, 1000, 2000],
      [3, 2000, 4000],
      [4, 4000, 8000],
      [9, 128_000, 256_000],
      [10, 150_000, 300_000],
      [30, 150_000, 300_000],
    ]);
  });
});

describe('alert outbox', () => {
  const base = (client: Client, url: string, now: () => number, extra: Partial<OutboxOptions> = {}): OutboxOptions => ({
    client,
    index: 'cs-test-alerts',
    webhook: { url, secret: 's3cret', timeoutMs: 2000 },
    maxAttempts: 4,
    maxAgeMs: 3_600_000,
    baseDelayMs: 1000,
    maxDelayMs: 60_000,
    pollMs: 10,
    log: logSink().log,
    now,
    random: () => 0.5,
    ...extra,
  });

  it('writes a new alert pending, due after its first attempt could have ended; one older than the maximum age skipped', () => {
    const t = Date.UTC(2026, 0, 5, 10);
    const box = alertOutbox(base(fakeIndex().client, 'http://127.0.0.1:1/', () => t));
    expect(box.initial(alertAt('v', t - 5000))).toEqual({ delivery: 'pending', delivery_attempts: 0, queued_at: new Date(t).toISOString(), next_attempt_at: new Date(t + 3000).toISOString(), delivered_at: null, delivery_error: null });
    expect(box.initial(alertAt('v', t - 3_600_000))).toMatchObject({ delivery: 'skipped', next_attempt_at: null });
  });

  it('first attempt at once: a 2xx marks it delivered; the body is the alert fields only, signed', async () => {
    const es = fakeIndex();
    const hook = await receiver(() => 204);
    cleanups.push(hook.close);
    const t = Date.UTC(2026, 0, 5, 10);
    const outcomes: string[] = [];
    const box = alertOutbox(base(es.client, hook.url, () => t, { onOutcome: (_a, o) => outcomes.push(o) }));
    const alert = alertAt('v1', t);
    const doc = { ...alert, ...box.initial(alert) };
    box.created(doc, es.create(doc), 1);
    await waitFor(() => outcomes.length === 1, 'the first attempt', 5000, 5);
    expect(outcomes).toEqual(['delivered']);
    expect(es.get(alert.alert_id)).toMatchObject({ delivery: 'delivered', delivery_attempts: 1, delivered_at: new Date(t).toISOString(), next_attempt_at: null, delivery_error: null });
    expect(hook.got).toHaveLength(1);
    const [d] = hook.got;
    expect(d.id).toBe(alert.alert_id);
    expect(d.signature).toBe(signBody('s3cret', d.body));
    expect(d.body).toBe(alertBody(alert));
    expect(JSON.parse(d.body)).toEqual({ ...alert });
    expect(JSON.parse(d.body)).not.toHaveProperty('delivery');
    await box.stop();
  });

  it('a failing receiver: retried with backoff by the leader until delivered, over several polls', async () => {
    const es = fakeIndex();
    let status = 503;
    const hook = await receiver(() => status);
    cleanups.push(hook.close);
    let t = Date.UTC(2026, 0, 5, 10);
    const outcomes: string[] = [];
    const box = alertOutbox(base(es.client, hook.url, () => t, { onOutcome: (_a, o) => outcomes.push(o) }));
    const alert = alertAt('v2', t);
    const doc = { ...alert, ...box.initial(alert) };
    box.created(doc, es.create(doc), 1);
    await waitFor(() => outcomes.length === 1, 'the first attempt', 5000, 5);
    // Failed: due again after the jittered first delay (random 0.5: 750 ms of 500..1000).
    expect(es.get(alert.alert_id)).toMatchObject({ delivery: 'pending', delivery_attempts: 1, next_attempt_at: new Date(t + 750).toISOString(), delivery_error: 'HTTP 503' });
    // Not the leader: nothing more happens, whatever the clock says.
    t += 10_000;
    await new Promise((r) => setTimeout(r, 50));
    expect(hook.calls()).toBe(1);
    box.assign([{ topic: 'clicks', partition: 0, committed: null, checkpoint: undefined }]);
    await waitFor(() => outcomes.length === 2, 'the second attempt', 5000, 5);
    expect(es.get(alert.alert_id)).toMatchObject({ delivery: 'pending', delivery_attempts: 2, next_attempt_at: new Date(t + 1500).toISOString() });
    status = 200;
    await new Promise((r) => setTimeout(r, 50));
    expect(outcomes).toHaveLength(2); // not due yet
    t += 1500;
    await waitFor(() => outcomes.length === 3, 'the third attempt', 5000, 5);
    expect(outcomes).toEqual(['failed', 'failed', 'delivered']);
    expect(es.get(alert.alert_id)).toMatchObject({ delivery: 'delivered', delivery_attempts: 3 });
    expect(hook.got.map((g) => g.id)).toEqual([alert.alert_id]);
    expect(es.refreshes()).toBeGreaterThan(0); // each poll after a recorded outcome reads it, not the attempted version
    await box.stop();
  });

  it('a delivery left pending by an instance that died is delivered by the next leader', async () => {
    const es = fakeIndex();
    const hook = await receiver(() => 200);
    cleanups.push(hook.close);
    const t = Date.UTC(2026, 0, 5, 10);
    // Written by an instance killed before its first attempt: pending, due.
    const dead = alertOutbox(base(es.client, hook.url, () => t - 60_000));
    const ids = ['a', 'b', 'c'].map((v) => {
      const alert = alertAt(v, t - 60_000);
      es.create({ ...alert, ...dead.initial(alert) });
      return alert.alert_id;
    });
    const box = alertOutbox(base(es.client, hook.url, () => t));
    box.assign([{ topic: 'page_views', partition: 1, committed: null, checkpoint: undefined }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(hook.calls()).toBe(0); // only the owner of partition 0 polls
    box.assign([{ topic: 'page_views', partition: 0, committed: null, checkpoint: undefined }]);
    await waitFor(() => ids.every((id) => es.get(id).delivery === 'delivered'), 'the leftover deliveries', 5000, 5);
    expect(hook.got.map((g) => g.id).sort()).toEqual(ids);
    // Revoked: it stops polling.
    box.revoke('page_views', 0);
    const alert = alertAt('d', t);
    es.create({ ...alert, ...dead.initial(alert) });
    await new Promise((r) => setTimeout(r, 60));
    expect(es.get(alert.alert_id).delivery).toBe('pending');
    await box.stop();
  });

  it('dead-lettered after the maximum attempts, logged and reported in the backlog', async () => {
    const es = fakeIndex();
    const hook = await receiver(() => 500);
    cleanups.push(hook.close);
    let t = Date.UTC(2026, 0, 5, 10);
    const outcomes: string[] = [];
    const backlog: [number, number][] = [];
    const { log, lines } = logSink();
    const box = alertOutbox(base(es.client, hook.url, () => t, { log, maxAttempts: 3, onOutcome: (_a, o) => outcomes.push(o), onBacklog: (p, d) => backlog.push([p, d]) }));
    const alert = alertAt('v3', t);
    es.create({ ...alert, ...box.initial(alert) });
    box.assign([{ topic: 'clicks', partition: 0, committed: null, checkpoint: undefined }]);
    for (let n = 1; n <= 3; n++) {
      t += 60_000;
      await waitFor(() => outcomes.length === n, `attempt ${n}`, 5000, 5);
    }
    expect(outcomes).toEqual(['failed', 'failed', 'dead']);
    expect(es.get(alert.alert_id)).toMatchObject({ delivery: 'dead', delivery_attempts: 3, next_attempt_at: null, delivery_error: 'HTTP 500' });
    t += 60_000;
    await waitFor(() => backlog.at(-1)?.[1] === 1, 'the dead one in the backlog', 5000, 5);
    expect(backlog.at(-1)).toEqual([0, 1]);
    expect(hook.calls()).toBe(3);
    expect(lines.filter((l) => l.level === 'error').map((l) => [l.msg, l.o])).toEqual([
      [expect.stringContaining('dead-lettered'), expect.objectContaining({ alert: alert.alert_id, attempts: 3, error: 'HTTP 500' })],
    ]);
    await box.stop();
  });

  it('dead-lettered by age too, whatever its attempts; a network error is a failed attempt', async () => {
    const es = fakeIndex();
    let t = Date.UTC(2026, 0, 5, 10);
    const outcomes: string[] = [];
    // A port nothing listens on any more.
    const gone = await receiver(() => 200);
    await gone.close();
    const box = alertOutbox(base(es.client, gone.url, () => t, { maxAttempts: 100, maxAgeMs: 30_000, onOutcome: (_a, o) => outcomes.push(o) }));
    const alert = alertAt('v4', t);
    const doc = { ...alert, ...box.initial(alert) };
    box.created(doc, es.create(doc), 1);
    await waitFor(() => outcomes.length === 1, 'the first attempt', 5000, 5);
    expect(es.get(alert.alert_id).delivery_error).toMatch(/ECONNREFUSED/);
    t += 30_000;
    box.assign([{ topic: 'clicks', partition: 0, committed: null, checkpoint: undefined }]);
    await waitFor(() => outcomes.length === 2, 'the second attempt', 5000, 5);
    expect(outcomes).toEqual(['failed', 'dead']);
    expect(es.get(alert.alert_id)).toMatchObject({ delivery: 'dead', delivery_attempts: 2 });
    await box.stop();
  });

  it('an outcome is recorded only on the version its attempt started from (another instance got there first)', async () => {
    const es = fakeIndex();
    const hook = await receiver(() => 200);
    cleanups.push(hook.close);
    const t = Date.UTC(2026, 0, 5, 10);
    const outcomes: string[] = [];
    const box = alertOutbox(base(es.client, hook.url, () => t, { onOutcome: (_a, o) => outcomes.push(o) }));
    const alert = alertAt('v5', t);
    const doc = { ...alert, ...box.initial(alert) };
    const seq = es.create(doc);
    // Another instance recorded a failed attempt meanwhile: this version is gone.
    await es.client.update({ index: 'cs-test-alerts', id: alert.alert_id, if_seq_no: seq, doc: { delivery_attempts: 1, delivery_error: 'HTTP 502' } });
    box.created(doc, seq, 1);
    await waitFor(() => hook.calls() === 1, 'the attempt', 5000, 5);
    await box.stop();
    expect(outcomes).toEqual([]);
    expect(es.get(alert.alert_id)).toMatchObject({ delivery: 'pending', delivery_attempts: 1, delivery_error: 'HTTP 502' });
  });
});
