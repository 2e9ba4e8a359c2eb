/**
 * A demo scenario through the running pipeline, not only through the detectors: the visits that
 * `DEMO_SCENARIO=click-burst` injects (scripts/demo-scenarios.ts) are posted to the real gateway
 * and counted by a processor in a child process with the default anomaly settings; the alerts
 * index then holds a `click_burst` alert of the injected visitor. Lean on purpose (one scenario,
 * seconds): the other scenarios' detectors are covered by the unit tests and alerts/site-alerts
 * integration tests.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, expect, inject, test } from 'vitest';
import { esFromConfig } from '../../common/es-client.js';
import { startGateway } from '../harness/gateway.js';
import { isolatedConfig, killHard, spawnProcessor } from '../harness/it-harness.js';
import type { Config } from '../../contracts/config.js';
import type { AlertDoc } from '../../contracts/documents.js';
import { indexNames } from '../../contracts/indices.js';
import { scenarioVisits } from '../../scripts/demo-scenarios.js';
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

test('DEMO_SCENARIO click-burst visits sent through the gateway become a click_burst alert of the injected visitor', async () => {
  const cfg: Partial<Config> = await isolatedConfig(brokers, esUrl, 3, { processorRoles: ['analytics'] });
  const { app, base } = await startGateway(cfg);
  closers.push(() => app.close());
  const es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
  closers.push(() => es.close());

  const [visit] = scenarioVisits('click-burst', Date.now() - 20_000, 0);
  const visitor = visit.events[0].visitor_id;
  const child = spawnProcessor(cfg);
  children.push(child);
  const res = await fetch(`${base}/v1/events?site=${SITE}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': visit.ua },
    body: JSON.stringify({ events: visit.events }),
  });
  expect(res.status).toBe(200);

  const alertsIndex = indexNames(cfg.esIndexPrefix!).alerts;
  const alerts = await waitFor(async () => {
    await es.indices.refresh({ index: alertsIndex, ignore_unavailable: true });
    const r = await es.search<AlertDoc>({ index: alertsIndex, size: 100, ignore_unavailable: true, query: { match_all: {} } });
    const docs = r.hits.hits.map((h) => h._source!);
    return docs.length > 0 && docs;
  }, 'the scenario alert', 90_000, 250);
  // The 8th click of the burst crosses the default floor (ANOMALY_BURST_SPANS 10:8); the network
  // burst the same clicks make is that visitor's alert, not a second one.
  const crossing = visit.events.filter((e) => e.type === 'click')[7];
  expect(alerts.map((a) => [a.kind, a.key, a.site_id, a.value, a.event_time])).toEqual([['click_burst', visitor, SITE, 8, new Date(crossing.ts).toISOString()]]);
  await killHard(child);
});
