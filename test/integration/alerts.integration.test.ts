/**
 * Click-burst alerts end to end against the real Kafka and Elasticsearch of the global set-up:
 * normal visitors and one visitor clicking far above them go through the real gateway into a
 * processor in a child process; the burst becomes one alert document (deterministic id) with a
 * pending webhook delivery. The receiver started here refuses (503) at first, and the processor is
 * SIGKILLed after the alert is indexed and its delivery failed (before its offsets can be
 * committed). Then the receiver accepts and the processor is restarted: the replay raises the same
 * alert, which is still one document, and the outbox delivers the pending delivery it finds on it:
 * the receiver gets the alert id at least once, signed, and the document says `delivered`.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, expect, inject, test } from 'vitest';
import { esFromConfig } from '../../common/es-client.js';
import { startGateway } from '../harness/gateway.js';
import { startWebhookReceiver, verifies, webhookTo } from '../harness/webhook-receiver.js';
import { isolatedConfig, killHard, spawnProcessor } from '../harness/it-harness.js';
import type { Config } from '../../contracts/config.js';
import { ALERT_FIELDS, fieldNames, type AlertDelivery, type AlertDoc } from '../../contracts/documents.js';
import type { ClientEvent } from '../../contracts/event-schema.js';
import { indexNames } from '../../contracts/indices.js';
import { USER_AGENTS } from '../../scripts/traffic-generator.js';
import { waitFor } from './helpers.js';

const brokers = inject('kafkaBrokers');
const esUrl = inject('esUrl');
const SECRET = 'it-webhook-secret';
const SITE = 'it';

const children: ChildProcess[] = [];
const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of children) await killHard(c);
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

/**
 * 30 normal visitors click every 12 s (so at most once per 10 s span: the population's counts
 * are all 1, median 1, MAD 0) over four minutes; then one visitor clicks 40 times in 8 s. With
 * ANOMALY_BURST_SPANS 10:8 and K 6 its threshold is max(floor 8, 1 + 6 x 1) = 8: the alert is
 * raised by its 8th click whatever part of the population a replay has seen.
 */
function traffic(now: number) {
  const click = (visitor: string, ts: number, n: number): ClientEvent => ({
    event_id: `${visitor}-c${n}`,
    type: 'click',
    ts,
    visitor_id: visitor,
    session_id: `${visitor}-s`,
    url: 'https://shop.example/products',
    element: 'button.add',
  });
  const normal: ClientEvent[] = [];
  const start = now - 5 * 60_000;
  for (let v = 0; v < 30; v++) {
    const visitor = `normal-${v}`;
    normal.push({ event_id: `${visitor}-pv`, type: 'page_view', ts: start + v * 397, visitor_id: visitor, session_id: `${visitor}-s`, url: 'https://shop.example/' });
    for (let n = 0; n < 20; n++) normal.push(click(visitor, start + v * 397 + 1000 + n * 12_000, n));
  }
  normal.sort((a, b) => a.ts - b.ts);
  const burster = 'burst-visitor';
  const burstStart = now - 30_000;
  const burst = Array.from({ length: 40 }, (_, n) => click(burster, burstStart + n * 200, n));
  return { normal, burst, burster, crossing: burst[7] };
}

test('a click burst sent through the gateway is one alert document, delivered signed by the webhook outbox after a SIGKILL before its delivery succeeded', async () => {
  const began = Date.now();
  const receiver = await startWebhookReceiver();
  closers.push(() => receiver.close());
  const { deliveries, requests } = receiver;
  receiver.status(503); // failing at first
  const hookUrl = receiver.url;

  const cfg: Partial<Config> = await isolatedConfig(brokers, esUrl, 3, {
    processorRoles: ['analytics'],
    anomalyBurstSpans: '10:8',
    anomalyBurstK: '6',
    // All test traffic comes from one loopback network: per-network bursts are the unit tests' job.
    anomalyNetworkSpans: '10:1000000',
    ...webhookTo(hookUrl, SECRET),
  });
  const { app, base } = await startGateway(cfg);
  closers.push(() => app.close());
  const es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
  closers.push(() => es.close());

  /** Clicks the analytics role has counted: its KPI documents are written as its events are added, as the alerts sink's are. */
  const counted = async () => {
    const index = indexNames(cfg.esIndexPrefix!).kpis;
    await es.indices.refresh({ index, ignore_unavailable: true });
    const r = await es.search({
      index,
      size: 0,
      ignore_unavailable: true,
      query: { bool: { filter: [{ term: { window_kind: 'tumbling_1m' } }, { term: { dimension: 'all' } }] } },
      aggs: { clicks: { sum: { field: 'clicks' } } },
    });
    return (r.aggregations?.clicks as { value: number } | undefined)?.value ?? 0;
  };
  const post = async (events: ClientEvent[]) => {
    for (let i = 0; i < events.length; i += 100) {
      const res = await fetch(`${base}/v1/events?site=${SITE}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': USER_AGENTS[0] },
        body: JSON.stringify({ events: events.slice(i, i + 100) }),
      });
      expect(res.status).toBe(200);
    }
  };
  const alertsIndex = indexNames(cfg.esIndexPrefix!).alerts;
  const alertDocs = async () => {
    await es.indices.refresh({ index: alertsIndex, ignore_unavailable: true });
    const r = await es.search<AlertDoc & AlertDelivery>({ index: alertsIndex, size: 100, ignore_unavailable: true, query: { match_all: {} } });
    return r.hits.hits.map((h) => ({ id: h._id, doc: h._source! }));
  };

  const { normal, burst, burster, crossing } = traffic(Date.now());
  const expectedId = `click_burst|${SITE}|${burster}|${new Date(crossing.ts).toISOString()}`;

  let child = spawnProcessor(cfg);
  children.push(child);
  await post(normal);
  // The population first: the burst is judged against the normal visitors it has seen.
  const normalClicks = normal.filter((e) => e.type === 'click').length;
  await waitFor(async () => (await counted()) === normalClicks, 'normal traffic counted', 60_000, 500);
  expect(await alertDocs()).toEqual([]); // normal visitors raise nothing
  await post(burst);

  const [first] = await waitFor(async () => {
    const docs = await alertDocs();
    return docs.length > 0 && docs;
  }, 'the burst alert', 60_000, 200);
  await waitFor(() => requests.length > 0, 'a refused delivery attempt', 30_000, 100);
  // ... and recorded on the alert document (the outbox writes it once the answer is in): a kill
  // between the two loses that record, and the delivery after the restart would be attempt 1.
  await waitFor(async () => ((await alertDocs())[0]?.doc.delivery_attempts ?? 0) >= 1, 'the refused attempt recorded', 30_000, 100);
  // Killed now: the delivery has not succeeded; the burst's windows are still open, so no offset
  // past it is committed and the restart replays the burst.
  await killHard(child);
  expect(deliveries).toEqual([]);
  expect(requests[0]).toMatchObject({ id: expectedId, status: 503 });
  const [killed] = await alertDocs();
  expect(killed.doc).toMatchObject({ delivery: 'pending' });
  expect(killed.doc.delivered_at ?? null).toBeNull();

  expect(first.id).toBe(expectedId);
  expect(first.doc).toMatchObject({
    delivery: 'pending',
    alert_id: expectedId,
    kind: 'click_burst',
    severity: 'warning',
    site_id: SITE,
    key: burster,
    visitor_id: burster,
    value: 8, // observed: clicks in the 10 s before the 8th click
    threshold: 8,
    expected: 1, // the population median of the normal visitors' counts per 10 s
    score: 1,
    window_start: new Date(crossing.ts - 10_000).toISOString(),
    window_end: new Date(crossing.ts).toISOString(),
    event_time: new Date(crossing.ts).toISOString(),
  });
  expect(JSON.parse(first.doc.evidence!)).toMatchObject({ span_s: 10, floor: 8, population_median: 1, population_mad: 0 });

  receiver.status(204);
  child = spawnProcessor(cfg);
  children.push(child);
  // One more click of the burster, on its partition after the burst (and within its cooldown):
  // once it is counted, the restarted processor has replayed the burst.
  await post([{ ...crossing, event_id: 'sentinel', ts: Date.now() - 1000 }]);
  await waitFor(async () => (await counted()) === normalClicks + burst.length + 1, 'the replay after the restart', 60_000, 500);
  // The restarted processor's outbox found the pending delivery on the alert document.
  await waitFor(() => deliveries.length >= 1, 'the webhook delivery after the restart', 30_000, 100);
  const after = await waitFor(async () => {
    const docs = await alertDocs();
    return docs.length > 0 && docs.every((d) => d.doc.delivery === 'delivered') && docs;
  }, 'the delivery recorded', 30_000, 200);
  // The replay raised the same alert again: still one document, the same alert.
  expect(after.map((a) => a.id)).toEqual([expectedId]);
  const alertOnly = (d: AlertDoc & Partial<AlertDelivery>) => Object.fromEntries(fieldNames(ALERT_FIELDS).map((k) => [k, d[k]]));
  expect(alertOnly(after[0].doc)).toEqual(alertOnly(first.doc));
  expect(after[0].doc.delivery_attempts).toBeGreaterThanOrEqual(2);
  expect(after[0].doc.queued_at).toBe(first.doc.queued_at); // the replay did not write it again

  // At least once, only ever this alert, each signed with the configured secret.
  expect(deliveries.length).toBeGreaterThanOrEqual(1);
  for (const d of deliveries) {
    expect(d.id).toBe(expectedId);
    expect(verifies(SECRET, d)).toBe(true);
    expect(verifies('another-secret', d)).toBe(false);
    expect(JSON.parse(d.body)).toEqual(alertOnly(first.doc)); // the alert, without its delivery state
  }
  await killHard(child);
  console.log(`alerts IT: ${deliveries.length} webhook deliveries of ${expectedId}, ${Math.round((Date.now() - began) / 1000)} s`);
});
