import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { pino, type Logger } from 'pino';
import type { Client } from '@elastic/elasticsearch';
import { ConfigError, type Config } from '../contracts/config.js';
import { loadConfig } from '../common/config.js';
import { indexNames } from '../contracts/indices.js';
import { esFromConfig } from '../common/es-client.js';
import { handleError, handleNotFound, sendError } from './errors.js';
import type { AlertDoc } from '../contracts/documents.js';
import { windowSpecs } from '../contracts/windows.js';
import { readLiveWindows } from './live-read.js';
import { windowLabel } from './labels.js';
import { alertSearch, alertsResponse, parseAlertQuery } from './alerts-query.js';
import { kpiResponse, kpiSearch, parseKpiQuery } from './kpis-query.js';
import { parseSessionQuery, sessionSearch, sessionsResponse, type SessionRow } from './sessions-query.js';
import { parseUrlQuery, urlStatsResponse, urlStatsSearch, urlUsersScope } from './url-stats-query.js';
import { countDistinct, distinctUsers } from './distinct-users.js';
import { DISTINCT_USERS } from '../contracts/documents.js';
import { overviewResponse, overviewSearch, parseSiteRange, visitorsFilter, withExactVisitors } from './overview-query.js';
import { breakdownResponse, breakdownSearch, parseBreakdownQuery } from './breakdown-query.js';

export interface DashboardOptions {
  config?: Partial<Config>;
  /** Defaults to a client built from config (closed with the app; a given one is left open). */
  es?: Client;
  logger?: Logger;
  /** Clock for relative times (`now-15m`); tests pin it. */
  now?: () => number;
}

const PUBLIC = new URL('./public/', import.meta.url);
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/panels.js': { file: 'panels.js', type: 'text/javascript; charset=utf-8' },
  '/chart.js': { file: 'chart.js', type: 'text/javascript; charset=utf-8' },
  '/dom.js': { file: 'dom.js', type: 'text/javascript; charset=utf-8' },
  '/format.js': { file: 'format.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
};

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The live dashboard: a static page (dashboard/public, no framework) and its JSON API over the
 * processor's Elasticsearch documents, per-partition partials summed exactly at query time
 * (dashboard/sums.ts).
 *
 *   GET /api/meta        window kinds, refresh interval, index names
 *   GET /api/kpis        ?window=tumbling_1m&from=now-30m&to=now&dimension=all&value=all&limit=
 *   GET /api/url-stats   ?from=now-15m&to=&limit=10&countries=5&country=
 *   GET /api/sessions    ?from=now-1h&to=&limit=20&closed=&visitor=&site=
 *   GET /api/alerts      ?from=now-24h&to=&limit=50&kind=&severity=&site=&visitor=
 *   GET /api/overview    ?from=now-1h&to=&site=a,b   key figures, funnel, revenue per currency, bots
 *   GET /api/breakdown   ?by=page&sort=visitors&limit=10&from=&to=&site=   top lists (dashboard/breakdown-query.ts)
 *   GET /healthz, /readyz (Elasticsearch reachable)
 *
 * Times: now, now-15m, now+5m (s, m, h, d), epoch ms or ISO dates. Errors: `{error: {code, message}}`
 * with the codes and statuses of dashboard/errors.ts (bad parameter: 400 `DASH_ERR_PARAM`,
 * Elasticsearch failing: 502 `DASH_ERR_ES`).
 * Config errors throw here, before anything listens.
 */
export async function buildDashboard(opts: DashboardOptions = {}): Promise<FastifyInstance> {
  const cfg = loadConfig(opts.config);
  if (cfg.dashboardUsername && !cfg.dashboardPassword) throw new ConfigError('DASHBOARD_USERNAME is set but DASHBOARD_PASSWORD is empty');
  const log = opts.logger ?? pino({ level: cfg.logLevel, base: { service: 'dashboard' } });
  const es = opts.es ?? esFromConfig(cfg);
  const ownClient = !opts.es;
  const now = opts.now ?? Date.now;
  const idx = indexNames(cfg.esIndexPrefix);
  const specs = windowSpecs(cfg);
  const kinds = specs.map((s) => s.kind);
  const assets = Object.fromEntries(Object.entries(ASSETS).map(([path, a]) => [path, { type: a.type, body: readFileSync(new URL(a.file, PUBLIC)) }]));

  const app = Fastify({ loggerInstance: log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    return payload;
  });

  if (cfg.dashboardUsername) {
    const expected = `Basic ${Buffer.from(`${cfg.dashboardUsername}:${cfg.dashboardPassword}`).toString('base64')}`;
    app.addHook('onRequest', async (req, reply) => {
      if (req.url === '/healthz') return;
      if (!sameSecret(req.headers.authorization ?? '', expected)) {
        reply.header('www-authenticate', 'Basic realm="clickstream dashboard", charset="UTF-8"');
        return sendError(reply, 'DASH_ERR_AUTH');
      }
    });
  } else if (!['127.0.0.1', '::1', 'localhost'].includes(cfg.dashboardHost)) {
    log.warn({ host: cfg.dashboardHost }, 'dashboard listens beyond loopback without authentication: set DASHBOARD_USERNAME / DASHBOARD_PASSWORD');
  }

  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);

  for (const [path, a] of Object.entries(assets)) {
    app.get(path, async (_req, reply) => reply.type(a.type).header('cache-control', 'no-cache').send(a.body));
  }

  const api = (reply: FastifyReply) => reply.header('cache-control', 'no-store');
  type Q = { Querystring: Record<string, string | undefined> };

  app.get('/api/meta', async (_req, reply) => {
    api(reply);
    return { windows: kinds, window_labels: Object.fromEntries(kinds.map((k) => [k, windowLabel(k)])), default_window: kinds[0], refresh_s: cfg.dashboardRefreshS, indices: idx, now: new Date(now()).toISOString() };
  });

  app.get<Q>('/api/kpis', async (req, reply) => {
    const t = now();
    const q = parseKpiQuery(req.query, t, kinds[0]);
    const live = readLiveWindows(es, q, { index: idx.kpis, spec: specs.find((s) => s.kind === q.window), now: t, openMs: cfg.kpiAllowedLatenessS * 1000, partitions: cfg.topicPartitions });
    const res = await es.search(kpiSearch(idx.kpis, q));
    const docs = await live.finish(res).catch((err: unknown) => {
      req.log.warn({ err }, 'real-time read of the open KPI windows failed: the search\'s figures are shown');
      return [];
    });
    api(reply);
    return kpiResponse(q, res, docs);
  });

  app.get<Q>('/api/url-stats', async (req, reply) => {
    const q = parseUrlQuery(req.query, now());
    const res = await es.search(urlStatsSearch(idx.urlStats, q));
    const scope = urlUsersScope(q, res, idx.eventsPattern);
    const users = scope ? await distinctUsers((r) => es.search(r), scope) : { byUrl: new Map(), byPair: new Map() };
    api(reply);
    return urlStatsResponse(q, res, users);
  });

  app.get<Q>('/api/sessions', async (req, reply) => {
    const q = parseSessionQuery(req.query, now());
    const res = await es.search<SessionRow>(sessionSearch(idx.sessions, q));
    api(reply);
    return sessionsResponse(q, res);
  });

  app.get<Q>('/api/overview', async (req, reply) => {
    const t = now();
    const q = parseSiteRange(req.query, t);
    const res = await es.search(overviewSearch(idx.eventsPattern, q, t));
    const o = overviewResponse(q, res);
    const exact = o.visitors <= DISTINCT_USERS.exactUpTo ? await countDistinct((r) => es.search(r), idx.eventsPattern, visitorsFilter(q), 'visitor_id') : null;
    api(reply);
    return withExactVisitors(o, exact);
  });

  app.get<Q>('/api/breakdown', async (req, reply) => {
    const q = parseBreakdownQuery(req.query, now());
    const res = await es.search(breakdownSearch(idx, q));
    api(reply);
    return breakdownResponse(q, res);
  });

  app.get<Q>('/api/alerts', async (req, reply) => {
    const q = parseAlertQuery(req.query, now());
    const res = await es.search<AlertDoc>(alertSearch(idx.alerts, q));
    api(reply);
    return alertsResponse(q, res);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      // GET / is missing from the integ-test distribution (client.ping() fails): ask for health.
      const h = await es.cluster.health({ timeout: '2s' });
      return { status: 'ready', elasticsearch: h.status };
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', error: (err as Error).message });
    }
  });

  app.addHook('onClose', async () => {
    if (ownClient) await es.close();
  });
  return app;
}
