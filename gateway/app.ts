import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../contracts/config.js';
import type { DeadLetter, EventBatch } from '../contracts/event-schema.js';
import { DEAD_LETTER_TOPIC, topicFor } from '../contracts/topics.js';
import { GatewayError, GW_ERRORS, type GatewayErrorCode } from './errors.js';
import { createValidator } from './validate.js';
import { enrichEvent, type RequestContext } from './enrich.js';
import { cachedUserAgentParser } from './user-agent.js';
import { geoipLiteProvider, type GeoProvider } from './geo.js';
import { anonymiseIp, unmapIPv4 } from './anonymise-ip.js';
import { RecentIds } from './dedup.js';
import { gatewayMetrics } from './metrics.js';
import type { EventProducer, OutRecord } from './event-producer.js';
import { kafkaProducer } from './kafka-producer.js';

export interface BuildOptions {
  config?: Partial<Config>;
  /** Defaults to the kafkajs producer built from config. */
  producer?: EventProducer;
  geo?: GeoProvider;
  logger?: Logger;
}

export interface EventResult {
  index: number;
  event_id: string | null;
  status: 'accepted' | 'duplicate' | 'rejected';
  code?: string;
  reason?: string;
}

const RAW_LIMIT = 8192;
/** Most events waiting for Kafka at once; beyond it requests get 503 instead of growing memory. */
const MAX_IN_FLIGHT_EVENTS = 100_000;

const truncate = (s: string) => (s.length > RAW_LIMIT ? `${s.slice(0, RAW_LIMIT)}…[truncated ${s.length - RAW_LIMIT} chars]` : s);

function rawOf(value: unknown): string {
  try {
    return truncate(typeof value === 'string' ? value : JSON.stringify(value) ?? String(value));
  } catch {
    return '[unserialisable]';
  }
}

/** Accepts {events:[...]}, a bare array of events, or one event object. */
function toBatch(body: unknown, maxEvents: number): { events: unknown[]; sentAt: number | null } {
  let events: unknown;
  let sentAt: unknown = null;
  if (Array.isArray(body)) events = body;
  else if (body && typeof body === 'object' && 'events' in body) {
    ({ events, sent_at: sentAt = null } = body as Partial<EventBatch> & { events: unknown });
    const extra = Object.keys(body).filter((k) => k !== 'events' && k !== 'sent_at');
    if (extra.length) throw new GatewayError('GW_ERR_BATCH_INVALID', `unknown field(s) ${extra.join(', ')}`);
  } else if (body && typeof body === 'object' && 'type' in body) events = [body];
  else throw new GatewayError('GW_ERR_BATCH_INVALID');
  if (!Array.isArray(events)) throw new GatewayError('GW_ERR_BATCH_INVALID', '"events" must be an array');
  if (events.length === 0) throw new GatewayError('GW_ERR_BATCH_INVALID', '"events" is empty');
  if (events.length > maxEvents) throw new GatewayError('GW_ERR_BATCH_TOO_LARGE', `${events.length} events, at most ${maxEvents}`);
  if (sentAt !== null && (typeof sentAt !== 'number' || !Number.isFinite(sentAt) || sentAt < 0)) {
    throw new GatewayError('GW_ERR_BATCH_INVALID', '"sent_at" must be epoch milliseconds');
  }
  return { events, sentAt: sentAt as number | null };
}

export async function buildApp(opts: BuildOptions = {}): Promise<FastifyInstance> {
  const cfg = loadConfig(opts.config);
  const log = opts.logger ?? pino({ level: cfg.logLevel, base: { service: 'gateway' } });
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: cfg.gatewayBodyLimit,
    requestIdHeader: 'x-request-id',
    disableRequestLogging: true,
  });
  const producer = opts.producer ?? kafkaProducer(cfg, log);
  const geo = opts.geo ?? geoipLiteProvider();
  const parseUa = cachedUserAgentParser();
  const validate = createValidator();
  const recent = new RecentIds();
  const metrics = gatewayMetrics();
  let inFlight = 0;

  // Both parsers read the body as text and parse it as JSON: sendBeacon posts text/plain
  // (which needs no CORS preflight), everything else posts application/json.
  const parseJson = (_req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void) => {
    try {
      done(null, JSON.parse(body));
    } catch (err) {
      const e = new GatewayError('GW_ERR_MALFORMED_JSON', (err as Error).message);
      (e as GatewayError & { raw?: string }).raw = truncate(body);
      done(e);
    }
  };
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string' }, parseJson);

  await app.register(cors, {
    origin: cfg.gatewayCorsOrigins.includes('*') ? true : cfg.gatewayCorsOrigins,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['content-type', 'x-site-key', 'x-request-id'],
    exposedHeaders: ['retry-after', 'x-request-id'],
    maxAge: 86400,
  });

  const deadLetter = (reason: string, code: string, raw: unknown, siteId: string | null, index: number | null, key: string): OutRecord => {
    const dl: DeadLetter = { reason, code, raw: rawOf(raw), site_id: siteId, received_at: new Date().toISOString(), index };
    return { topic: cfg.topicPrefix + DEAD_LETTER_TOPIC, key, value: JSON.stringify(dl) };
  };

  app.setErrorHandler(async (err, req, reply) => {
    let code: GatewayErrorCode = 'GW_ERR_INTERNAL';
    let message: string = GW_ERRORS.GW_ERR_INTERNAL.message;
    let retryAfter: number | undefined;
    const fe = err as { code?: string; statusCode?: number; message: string };
    if (err instanceof GatewayError) {
      code = err.code;
      message = err.message;
      retryAfter = err.retryAfterS;
    } else if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      code = 'GW_ERR_BODY_TOO_LARGE';
      message = `${GW_ERRORS[code].message} of ${cfg.gatewayBodyLimit} bytes`;
    } else if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || fe.code === 'FST_ERR_CTP_EMPTY_TYPE') {
      code = 'GW_ERR_UNSUPPORTED_MEDIA_TYPE';
      message = GW_ERRORS[code].message;
    } else if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      code = 'GW_ERR_MALFORMED_JSON';
      message = 'Body is empty';
    } else if (fe.statusCode && fe.statusCode < 500) {
      code = 'GW_ERR_BATCH_INVALID';
      message = fe.message;
    } else {
      req.log.error({ err }, 'unhandled error');
    }
    // A body we could not parse is still kept, best effort, so nothing vanishes without trace.
    const raw = (err as { raw?: string }).raw;
    if (code === 'GW_ERR_MALFORMED_JSON' && raw !== undefined && producer.isAvailable()) {
      await producer.send([deadLetter(message, code, raw, siteOf(req), null, 'malformed')]).catch(() => undefined);
    }
    const status = GW_ERRORS[code].status;
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
    metrics.requests.inc({ route: req.routeOptions.url ?? 'unknown', status });
    return reply.status(status).send({ error: { code, message }, request_id: req.id });
  });

  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ error: { code: 'GW_ERR_NOT_FOUND', message: `No route ${req.method} ${req.url}` }, request_id: req.id });
  });

  const siteOf = (req: FastifyRequest): string | null => {
    const q = (req.query as Record<string, unknown> | undefined)?.site;
    const h = req.headers['x-site-key'];
    const v = typeof q === 'string' ? q : typeof h === 'string' ? h : null;
    return v && v.length <= 128 ? v : null;
  };

  app.post('/v1/events', async (req, reply) => {
    const receivedAt = Date.now();
    const siteId = siteOf(req);
    const { events, sentAt } = toBatch(req.body, cfg.gatewayMaxBatch);
    if (!producer.isAvailable()) throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', undefined, cfg.gatewayRetryAfterS);
    if (inFlight + events.length > MAX_IN_FLIGHT_EVENTS) throw new GatewayError('GW_ERR_OVERLOADED', undefined, 1);

    const fullIp = unmapIPv4(req.ip);
    const ctx: RequestContext = {
      ua: parseUa(req.headers['user-agent'] ?? ''),
      geo: geo.lookup(fullIp),
      ip: anonymiseIp(fullIp),
      siteId,
      receivedAt,
      sentAt,
    };

    const results: EventResult[] = [];
    const records: OutRecord[] = [];
    const acceptedIds: string[] = [];
    const inBatch = new Set<string>();
    const acceptedTypes: string[] = [];
    events.forEach((raw, index) => {
      const v = validate(raw);
      if (!v.ok) {
        const id = (raw as { event_id?: unknown } | null)?.event_id;
        const eventId = typeof id === 'string' ? id.slice(0, 64) : null;
        results.push({ index, event_id: eventId, status: 'rejected', code: v.code, reason: v.reason });
        const key = (raw as { visitor_id?: unknown } | null)?.visitor_id;
        records.push(deadLetter(v.reason, v.code, raw, siteId, index, typeof key === 'string' ? key.slice(0, 128) : 'invalid'));
        metrics.rejected.inc({ code: v.code });
        return;
      }
      const ev = v.event;
      if (inBatch.has(ev.event_id) || recent.has(ev.event_id, receivedAt)) {
        results.push({ index, event_id: ev.event_id, status: 'duplicate' });
        metrics.duplicates.inc();
        return;
      }
      inBatch.add(ev.event_id);
      records.push({ topic: topicFor(ev.type, cfg.topicPrefix), key: ev.visitor_id, value: JSON.stringify(enrichEvent(ev, ctx)) });
      acceptedIds.push(ev.event_id);
      acceptedTypes.push(ev.type);
      results.push({ index, event_id: ev.event_id, status: 'accepted' });
    });

    if (records.length > 0) {
      inFlight += records.length;
      metrics.inFlight.set(inFlight);
      const end = metrics.produceSeconds.startTimer();
      try {
        await producer.send(records);
      } catch (err) {
        req.log.warn({ err: (err as Error).message }, 'produce failed');
        throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', undefined, cfg.gatewayRetryAfterS);
      } finally {
        end();
        inFlight -= records.length;
        metrics.inFlight.set(inFlight);
      }
    }
    for (const id of acceptedIds) recent.add(id, receivedAt);
    for (const t of acceptedTypes) metrics.accepted.inc({ type: t });

    const accepted = results.filter((r) => r.status === 'accepted').length;
    const duplicate = results.filter((r) => r.status === 'duplicate').length;
    const rejected = results.length - accepted - duplicate;
    const status = rejected === 0 ? 200 : accepted + duplicate === 0 ? 400 : 207;
    metrics.requests.inc({ route: '/v1/events', status });
    const body: Record<string, unknown> = { accepted, duplicate, rejected, results, request_id: req.id };
    if (status === 400) body.error = { code: 'GW_ERR_ALL_EVENTS_INVALID', message: GW_ERRORS.GW_ERR_ALL_EVENTS_INVALID.message };
    return reply.status(status).send(body);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ok = producer.isAvailable();
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'kafka unavailable' });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.addHook('onClose', async () => {
    await producer.close();
  });
  return app;
}
