/**
 * Site-level anomalies end to end against the real Kafka and Elasticsearch of the global set-up:
 * two sites' traffic (an hour of history, then four odd minutes, then normal minutes that seal
 * them) goes through the real gateway into a processor in a child process. Site `stops` stops
 * buying while its visitors keep coming: exactly one `purchases_stopped` alert document and one
 * signed webhook delivery. Site `sale` has a flash sale (three times the visitors, buying as
 * usual): the negative control, no alert.
 *
 * The history is counted by a first processor that is then stopped; the second one knows nothing
 * but what it reads back from the KPI index when it starts (the detector's rerun over the
 * history), which is what makes four minutes without purchases unusual.
 *
 * The webhook receiver refuses (503) until the alert is written and its delivery failed; then the
 * processor is SIGKILLed, the receiver accepts, and a third processor delivers the pending
 * delivery it finds on the alert document (the outbox): the alert reaches the receiver signed,
 * still one document.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, expect, inject, test } from 'vitest';
import { esFromConfig } from '../../common/es-client.js';
import { freePort } from '../../infra/ports.js';
import { startGateway } from '../harness/gateway.js';
import { startWebhookReceiver, verifies, webhookTo } from '../harness/webhook-receiver.js';
import { isolatedConfig, killHard, spawnProcessor } from '../harness/it-harness.js';
import type { Config } from '../../contracts/config.js';
import type { AlertDelivery, AlertDoc } from '../../contracts/documents.js';
import type { ClientEvent } from '../../contracts/event-schema.js';
import { indexNames } from '../../contracts/indices.js';
import { USER_AGENTS } from '../../scripts/traffic-generator.js';
import { waitFor } from './helpers.js';

const brokers = inject('kafkaBrokers');
const esUrl = inject('esUrl');
const SECRET = 'it-site-secret';
const STEP = 60_000;
const HISTORY = 60;
const ODD = [HISTORY, HISTORY + 4] as const;
const END = HISTORY + 10;

const children: ChildProcess[] = [];
const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of children) await killHard(c);
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

/** Window w of both sites: visitors (one page view each) and purchases, a little uneven. */
function windowEvents(t0: number, w: number): ClientEvent[] {
  const odd = w >= ODD[0] && w < ODD[1];
  const wobble = (w * 7) % 5;
  const sites = [
    { site: 'stops', visitors: 60 + wobble, purchases: odd ? 0 : 12 + (w % 3) - 1 },
    { site: 'sale', visitors: (odd ? 3 : 1) * (40 + wobble), purchases: (odd ? 3 : 1) * (8 + (w % 2)) },
  ];
  const out: ClientEvent[] = [];
  for (const s of sites) {
    for (let i = 0; i < s.visitors; i++) {
      const visitor = `${s.site}-${w}-${i}`;
      const ts = t0 + w * STEP + Math.floor((i * 50_000) / s.visitors);
      const base = { visitor_id: visitor, session_id: `${visitor}-s`, url: `https://${s.site}.example/` };
      out.push({ ...base, event_id: `${visitor}-pv`, type: 'page_view', ts, site: s.site } as ClientEvent & { site: string });
      if (i < s.purchases) out.push({ ...base, event_id: `${visitor}-buy`, type: 'purchase', ts: ts + 1000, order_id: `${visitor}-o`, revenue: 40, currency: 'EUR', site: s.site } as ClientEvent & { site: string });
    }
  }
  return out;
}

test('purchases stopping is one site-level alert, delivered signed by the outbox after a SIGKILL before its delivery succeeded; a flash sale is none', async () => {
  const receiver = await startWebhookReceiver();
  closers.push(() => receiver.close());
  receiver.status(503);
  const metricsPort = await freePort();

  const cfg: Partial<Config> = await isolatedConfig(brokers, esUrl, 3, {
    processorRoles: ['analytics'],
    processorMetricsPort: metricsPort,
    anomalySiteStepS: 60,
    anomalySitePollMs: 300,
    anomalySiteHistoryWeeks: 1,
    // Every partition has traffic in every minute here: windows are judged once all sealed them.
    anomalySiteGraceS: 40 * 86_400,
    // Only the site-level detector is under test (the stream detectors have their own tests).
    anomalyBurstSpans: '10:1000000',
    anomalyNetworkSpans: '10:1000000',
    anomalyBotMinTraining: 1_000_000,
    ...webhookTo(receiver.url, SECRET),
  });
  const { app, base } = await startGateway(cfg);
  closers.push(() => app.close());
  const es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
  closers.push(() => es.close());

  const post = async (events: (ClientEvent & { site?: string })[]) => {
    for (const site of ['stops', 'sale']) {
      const mine = events.filter((e) => e.site === site).map(({ site: _s, ...e }) => e as ClientEvent);
      for (let i = 0; i < mine.length; i += 200) {
        const res = await fetch(`${base}/v1/events?site=${site}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': USER_AGENTS[0] },
          body: JSON.stringify({ events: mine.slice(i, i + 200) }),
        });
        expect(res.status).toBe(200);
      }
    }
  };
  /** The end of the last site window the processor judged (0: not yet, or not the leader). */
  const judgedUntil = async () => {
    const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
      .then((r) => r.text())
      .catch(() => '');
    const m = /^processor_anomaly_site_judged_until_seconds (\S+)$/m.exec(text);
    return m ? Number(m[1]) * 1000 : 0;
  };
  const alertsIndex = indexNames(cfg.esIndexPrefix!).alerts;
  const alertDocs = async () => {
    await es.indices.refresh({ index: alertsIndex, ignore_unavailable: true });
    const r = await es.search<AlertDoc & AlertDelivery>({ index: alertsIndex, size: 100, ignore_unavailable: true, query: { match_all: {} } });
    return r.hits.hits.map((h) => h._source!);
  };

  const t0 = Math.floor((Date.now() - 90 * STEP) / STEP) * STEP;
  const windows = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => windowEvents(t0, from + i)).flat();

  // An hour of history, counted by a first processor, in time order (so nothing is late).
  for (let w = 0; w < HISTORY; w += 10) await post(windows(w, Math.min(HISTORY, w + 10)));
  let child = spawnProcessor(cfg);
  children.push(child);
  await waitFor(async () => (await judgedUntil()) >= t0 + (HISTORY - 2) * STEP, 'the history judged', 120_000, 500);
  expect(await alertDocs()).toEqual([]);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;

  // A second processor: its detector learns the history back from the KPI index.
  child = spawnProcessor(cfg);
  children.push(child);
  await waitFor(async () => (await judgedUntil()) >= t0 + (HISTORY - 2) * STEP, 'the history rerun', 120_000, 500);
  await post(windows(HISTORY, END));
  await waitFor(async () => (await judgedUntil()) >= t0 + (END - 2) * STEP, 'the odd minutes judged', 120_000, 500);

  const alerts = await alertDocs();
  // k of n = 2 of 3: the second minute without purchases raises it.
  const expectedId = `purchases_stopped|stops|${new Date(t0 + (ODD[0] + 1) * STEP).toISOString()}`;
  expect(alerts.map((a) => a.alert_id)).toEqual([expectedId]);
  expect(alerts[0]).toMatchObject({ kind: 'purchases_stopped', site_id: 'stops', key: 'stops', value: 0, window_start: new Date(t0 + (ODD[0] + 1) * STEP).toISOString() });
  expect(alerts[0].expected).toBeGreaterThan(8);
  // Its delivery was attempted and refused: SIGKILL before any succeeded.
  await waitFor(() => receiver.requests.length > 0, 'a refused delivery attempt', 30_000, 100);
  await killHard(child);
  expect(receiver.deliveries).toEqual([]);
  expect((await alertDocs())[0]).toMatchObject({ alert_id: expectedId, delivery: 'pending' });

  receiver.status(204);
  child = spawnProcessor(cfg);
  children.push(child);
  // The new owner of partition 0 (once the killed member's session expired) finds it pending.
  await waitFor(() => receiver.deliveries.length > 0, 'the webhook delivery after the restart', 90_000, 200);
  const after = await waitFor(async () => {
    const docs = await alertDocs();
    return docs.length > 0 && docs.every((d) => d.delivery === 'delivered') && docs;
  }, 'the delivery recorded', 30_000, 200);
  expect(after.map((a) => a.alert_id)).toEqual([expectedId]);
  expect(receiver.requests.every((d) => d.id === expectedId)).toBe(true);
  expect(receiver.deliveries.map((d) => ({ id: d.id, ok: verifies(SECRET, d) }))).toEqual([{ id: expectedId, ok: true }]);
}, 420_000);
