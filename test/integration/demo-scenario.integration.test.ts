/**
 * Every DEMO_SCENARIO through the running pipeline, not only through the detectors: half an hour
 * of the demo's shoppers with the injected visits of `click-burst`, `network-burst`,
 * `bot-session` and `purchases-stop` (test/harness/scenario-traffic.ts: the same visits the demo's
 * generator makes, in past event time) is posted to the real gateway, which believes the
 * generator's X-Forwarded-For as the demo's does, and counted by one processor in a child
 * process; the alerts index then holds each scenario's alert, about what was injected.
 *
 * The processor runs the default anomaly settings except: bot sessions close after 60 s without
 * an event (not 600: the half hour would have to be longer), and the site-level detector judges
 * 1-minute windows, polls every 0.5 s and waits for every partition to seal a window (its idle
 * grace would otherwise judge the past half hour as empty before it is posted). `purchases-stop`
 * needs the site's usual conversion: the first 20 minutes of the traffic are that history, posted
 * through the gateway like the rest, so the detector learns it the way the processor always does
 * (from the KPI windows it wrote).
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, inject, test } from 'vitest';
import { esFromConfig } from '../../common/es-client.js';
import { startGateway } from '../harness/gateway.js';
import { isolatedConfig, killHard, spawnProcessor } from '../harness/it-harness.js';
import { scenarioTraffic } from '../harness/scenario-traffic.js';
import type { Config } from '../../contracts/config.js';
import type { AlertDoc } from '../../contracts/documents.js';
import { indexNames } from '../../contracts/indices.js';
import { waitFor } from './helpers.js';

const brokers = inject('kafkaBrokers');
const esUrl = inject('esUrl');
const SITE = 'demo';

const children: ChildProcess[] = [];
const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of children) await killHard(c);
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

test('each DEMO_SCENARIO sent through the gateway becomes its alert: click_burst, network_burst, bot_session, purchases_stopped', async () => {
  const began = Date.now();
  const cfg: Partial<Config> = await isolatedConfig(brokers, esUrl, 3, {
    processorRoles: ['analytics'],
    trustedProxies: ['127.0.0.1'],
    anomalyBotSessionGapS: 60,
    anomalySiteStepS: 60,
    anomalySitePollMs: 500,
    anomalySiteHistoryWeeks: 1,
    anomalySiteGraceS: 40 * 86_400,
  });
  const { app, base } = await startGateway(cfg);
  closers.push(() => app.close());
  const es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
  closers.push(() => es.close());

  const traffic = scenarioTraffic(Date.now());
  const child = spawnProcessor(cfg);
  children.push(child);
  // The SDK's contract, not a gateway that never sheds: a 503 GW_ERR_OVERLOADED (a starved machine
  // may shed a chunk's burst) is sent again after its Retry-After, until the batch is answered 200.
  const acceptedIds = new Map<string, number>();
  let shed = 0;
  const post = async (r: (typeof traffic.requests)[number]) => {
    for (;;) {
      const res = await fetch(`${base}/v1/events?site=${SITE}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': r.ua, 'x-forwarded-for': r.ip },
        body: JSON.stringify({ events: r.events }),
      });
      const body = (await res.json()) as { accepted?: number; duplicate?: number; error?: { code: string } };
      if (res.status === 503) {
        expect(body.error?.code).toBe('GW_ERR_OVERLOADED');
        const retryAfterS = Number(res.headers.get('retry-after'));
        expect(retryAfterS).toBeGreaterThanOrEqual(1);
        shed++;
        await sleep(retryAfterS * 1000);
        continue;
      }
      expect(res.status).toBe(200);
      // A shed batch was not taken: its resend is its first acceptance, never a duplicate.
      expect(body).toMatchObject({ accepted: r.events.length, duplicate: 0 });
      for (const e of r.events) acceptedIds.set(e.event_id, (acceptedIds.get(e.event_id) ?? 0) + 1);
      return;
    }
  };
  // Chunk after chunk (event time order), the clients of one chunk at once.
  const chunks = Math.max(...traffic.requests.map((r) => r.chunk)) + 1;
  for (let c = 0; c < chunks; c++) await Promise.all(traffic.requests.filter((r) => r.chunk === c).map(post));
  const posted = Date.now();
  // Every event accepted, each once.
  const sent = traffic.requests.flatMap((r) => r.events.map((e) => e.event_id));
  expect(acceptedIds.size).toBe(new Set(sent).size);
  expect([...acceptedIds.values()].every((n) => n === 1)).toBe(true);
  expect(sent.every((id) => acceptedIds.has(id))).toBe(true);

  const alertsIndex = indexNames(cfg.esIndexPrefix!).alerts;
  const alerts = async () => {
    await es.indices.refresh({ index: alertsIndex, ignore_unavailable: true });
    const r = await es.search<AlertDoc>({ index: alertsIndex, size: 1000, ignore_unavailable: true, query: { match_all: {} } });
    return r.hits.hits.map((h) => h._source!);
  };
  const { clickBurst, networkBurst, bot } = traffic;
  let missing: string[] = [];
  const found = await waitFor(async () => {
    const docs = await alerts();
    const of = (kind: string, key: (a: AlertDoc) => boolean) => docs.find((a) => a.kind === kind && key(a));
    const want = {
      click_burst: of('click_burst', (a) => a.key === clickBurst.visitor),
      network_burst: of('network_burst', (a) => a.key === '203.0.113.0'),
      bot_session: of('bot_session', (a) => a.key === bot.session),
      purchases_stopped: of('purchases_stopped', (a) => a.site_id === SITE),
    };
    missing = Object.keys(want).filter((k) => !want[k as keyof typeof want]);
    return missing.length === 0 && { docs, want: want as Record<keyof typeof want, AlertDoc> };
  }, 'an alert of every scenario', 180_000, 1000).catch((err: Error) => {
    throw new Error(`${err.message}; still missing: ${missing.join(', ')}`);
  });

  const { want, docs } = found;
  // click-burst: the injected visitor's 8th click in 10 s crosses the default floor.
  expect(want.click_burst).toMatchObject({ site_id: SITE, visitor_id: clickBurst.visitor, value: 8, event_time: new Date(clickBurst.crossing.ts).toISOString() });
  // network-burst: 30 visitors of 203.0.113.0/24, at most 3 clicks each: the network, not a visitor.
  expect(want.network_burst).toMatchObject({ site_id: SITE, visitor_id: null });
  expect(want.network_burst.value).toBeGreaterThanOrEqual(15);
  // bot-session: the scripted session, scored once it closed.
  expect(want.bot_session).toMatchObject({ site_id: SITE, visitor_id: bot.session.replace(/-s$/, '') });
  expect(Date.parse(want.bot_session.window_end!)).toBe(bot.lastTs);
  // purchases-stop: a site window after the stop began, no purchases in it, many expected.
  expect(Date.parse(want.purchases_stopped.window_start!)).toBeGreaterThanOrEqual(traffic.stopFrom);
  expect(want.purchases_stopped.value).toBe(0);
  expect(want.purchases_stopped.expected).toBeGreaterThan(5);
  // The burst detectors alert on nothing but the injected visits (the bot script's 40 clicks in 12 s are a click burst too).
  const bursts = docs.filter((a) => a.kind === 'click_burst' || a.kind === 'network_burst').map((a) => `${a.kind}:${a.key}`);
  expect(bursts.sort()).toEqual([`click_burst:${bot.session.replace(/-s$/, '')}`, `click_burst:${clickBurst.visitor}`, 'network_burst:203.0.113.0'].sort());
  expect(docs.filter((a) => a.kind === 'purchases_stopped').every((a) => Date.parse(a.window_start!) >= traffic.stopFrom)).toBe(true);
  const counts = new Map<string, number>();
  for (const a of docs) counts.set(a.kind, (counts.get(a.kind) ?? 0) + 1);
  const byKind = [...counts].map(([k, n]) => `${k} ${n}`);
  console.log(`demo scenarios IT: ${traffic.requests.length} requests posted (${shed} shed and sent again) in ${Math.round((posted - began) / 1000)} s, all four alerts ${Math.round((Date.now() - posted) / 1000)} s later; alerts by kind: ${byKind.join(', ')}; network burst members ${networkBurst.visitors.length}`);
  await killHard(child);
}, 300_000);
