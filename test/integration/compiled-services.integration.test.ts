/**
 * The services as the image runs them: compiled JavaScript (`npm run build` -> dist/) started
 * with plain `node`, NODE_ENV=production, from another directory, on the real Kafka and
 * Elasticsearch. The set-up job creates the topics and templates, the gateway takes an event,
 * the processor indexes it, the dashboard serves its page (assets copied into dist/) and answers
 * ready, and each exits 0 on SIGTERM.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { Client } from '@elastic/elasticsearch';
import { esFromConfig } from '../../common/es-client.js';
import { DIST, ensureDistBuilt } from '../e2e/builds.js';
import { freePort } from '../../infra/ports.js';
import { startNodeService, type NodeService } from '../e2e/node-service.js';
import { esCount, unique, waitFor } from './helpers.js';

const brokers = inject('kafkaBrokers');
const esUrl = inject('esUrl');
const topicPrefix = `${unique('dist')}_`;
const indexPrefix = unique('dist').toLowerCase();
const env = { KAFKA_BROKERS: brokers.join(','), ES_URL: esUrl, TOPIC_PREFIX: topicPrefix, ES_INDEX_PREFIX: indexPrefix, LOG_LEVEL: 'warn' };
const services: Record<string, NodeService> = {};
let es: Client;

beforeAll(() => {
  ensureDistBuilt();
  es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
});

afterAll(async () => {
  const codes = Object.fromEntries(await Promise.all(Object.entries(services).map(async ([name, s]) => [name, await s.stop()] as const)));
  await es?.close();
  for (const [name, code] of Object.entries(codes)) expect(code, `${name} exits 0 on SIGTERM:\n${services[name].output().slice(-2000)}`).toBe(0);
});

test('set-up job, gateway, processor and dashboard run from dist/ with node', async () => {
  const setup = await promisify(execFile)(process.execPath, [`${DIST}/infra/cli.js`, 'setup'], {
    cwd: '/',
    env: { ...process.env, ...env, NODE_ENV: 'production', TOPIC_PARTITIONS: '1' },
  });
  expect(setup.stdout).toContain(`${topicPrefix}page_views (1)`);
  expect(setup.stdout).toContain(`${indexPrefix}-events`);

  const [gw, proc, dash] = await Promise.all([freePort(), freePort(), freePort()]);
  [services.gateway, services.processor, services.dashboard] = await Promise.all([
    startNodeService(`${DIST}/gateway/server.js`, { ...env, GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(gw) }, `http://127.0.0.1:${gw}/readyz`),
    startNodeService(
      `${DIST}/processor/main.js`,
      { ...env, PROCESSOR_METRICS_PORT: String(proc), PROCESSOR_GROUP_ID: unique('dist'), ARCHIVE_BACKEND: 'none' },
      `http://127.0.0.1:${proc}/healthz`,
    ),
    startNodeService(`${DIST}/dashboard/server.js`, { ...env, DASHBOARD_HOST: '127.0.0.1', DASHBOARD_PORT: String(dash) }, `http://127.0.0.1:${dash}/readyz`),
  ]);

  const page = await fetch(`http://127.0.0.1:${dash}/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('<html');

  const eventId = unique('evt').replace(/_/g, '-');
  const res = await fetch(`http://127.0.0.1:${gw}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ events: [{ event_id: eventId, type: 'page_view', ts: Date.now(), visitor_id: 'v-dist', session_id: 's-dist', url: 'https://shop.example/dist' }] }),
  });
  expect(res.status).toBe(200);
  expect((await res.json()).accepted).toBe(1);
  await waitFor(async () => (await esCount(es, `${indexPrefix}-events-*`)) === 1, 'the event indexed by the compiled processor', 60_000);
  const hit = await es.search({ index: `${indexPrefix}-events-*`, query: { ids: { values: [eventId] } } });
  expect(hit.hits.hits).toHaveLength(1);
});
