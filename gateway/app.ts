import { isUtf8 } from 'node:buffer';
import http from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { pino, type Logger } from 'pino';
import { ConfigError, type Config } from '../contracts/config.js';
import { loadConfig } from '../common/config.js';
import { sleep } from '../common/wait.js';
import { queryAllowlist } from './url-normalise.js';
import { clientIp, registerAccessControl } from './access.js';
import { Admission } from './admission.js';
import { registerAdmission, stampArrival } from './admission-hooks.js';
import { LoopLag, realLoopClock } from './loop-lag.js';
import { handoverRoom, ROOM_REPORT_MS } from './handover-room.js';
import { toBatch } from './batch.js';
import { parseBotPolicy } from './bot-policy.js';
import { deadLetters } from './dead-letter.js';
import { RecentIds } from './dedup.js';
import { Delivery } from './delivery.js';
import { BodyError, clientErrorHandler, registerErrorHandlers } from './error-handler.js';
import { GatewayError } from './errors.js';
import type { EventProducer } from './event-producer.js';
import { cachedGeo, geoipLiteProvider, type GeoProvider } from './geo.js';
import { createIngest } from './ingest.js';
import { coalescingProducer } from './coalescing-producer.js';
import { registerHopTrace } from './hop-trace.js';
import { kafkaProducer } from './kafka-producer.js';
import { gatewayMetrics } from './metrics.js';
import { registerMetricsRoute } from './metrics-route.js';
import { mmdbGeoProvider } from './mmdb-geo.js';
import { pixelValidator, registerPixel } from './pixel.js';
import { trustProxyOption, userIdHasher } from './privacy.js';
import { TokenBuckets } from './rate-limit.js';
import { sdkRoute } from './sdk-route.js';
import { serveDemoShop } from './demo-shop.js';
import { siteRegistry } from './sites.js';
import { cachedUserAgentParser } from './user-agent.js';
import { createValidator } from './validate.js';

export type { EventResult } from './ingest.js';

export interface BuildOptions {
  config?: Partial<Config>;
  /** Defaults to the kafkajs producer built from config. */
  producer?: EventProducer;
  /** Defaults to GEOIP_MMDB_PATH's database when set, else geoip-lite's bundled data. */
  geo?: GeoProvider;
  logger?: Logger;
  /**
   * Set when this process runs behind the acceptor (GATEWAY_ACCEPTOR, acceptor.ts): shed requests
   * get `connection: close`, and `onOverload` is called when the process turns overloaded (it shed a
   * request, or its oldest admitted request has waited half GATEWAY_MAX_QUEUE_DELAY_MS) and when it
   * recovers (nothing shed for OVERLOAD_HOLD_MS, and no such wait); `onRoom` every
   * ROOM_REPORT_MS with the connections it takes until the next report (handover-room.ts).
   */
  acceptor?: { onOverload(on: boolean): void; onRoom?(n: number): void };
  /** Set in each process of a gateway of several (cluster-metrics.ts): GET /metrics answers the whole gateway's page it gives. */
  metricsPage?: () => Promise<string>;
}

/**
 * Behind the acceptor, a process counts as overloaded this long after its last shed: long enough
 * that the acceptor does not hand it a flood of new connections between two loop turns, short
 * enough that it gets new clients again soon after it has room.
 */
export const OVERLOAD_HOLD_MS = 500;

declare module 'fastify' {
  interface FastifyInstance {
    /** Behind the acceptor: counts the ingest requests it shed for this process (its metrics hold them). */
    countAcceptorSheds?: (n: number, busy?: number) => void;
    /** Behind the acceptor: a connection's hand-over took `ms`; the acceptor's loop was delayed at most `ms` over a second. */
    observeHandover?: (ms: number) => void;
    observeAcceptorLoopDelay?: (ms: number) => void;
  }
}

const JSON_UTF8 = 'application/json; charset=utf-8';

/** The charset parameter of a Content-Type, lower-cased and unquoted; null when there is none. */
export function charsetOf(contentType: string | undefined): string | null {
  if (contentType === undefined || !contentType.includes(';')) return null;
  const m = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType);
  return m ? m[1].toLowerCase() : null;
}

/** `?results=1` (or `true`): per-event results even when every event was accepted. */
function wantsResults(req: FastifyRequest): boolean {
  const r = (req.query as Record<string, unknown> | undefined)?.results;
  return r === '1' || r === 'true';
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The body's text as received (set by the content-type parser): dead letters keep it. */
    bodyText?: string;
    /** The bytes it was decoded from (ingest digests events from them). */
    bodyBytes?: Buffer;
  }
}

/**
 * The gateway: POST /v1/events (JSON or text/plain), GET /v1/p.gif, /healthz, /readyz,
 * /metrics. Wiring only; each concern lives in its own module (access control, ingest,
 * delivery, pixel ...). Config errors throw here, before anything listens.
 */
export async function buildApp(opts: BuildOptions = {}): Promise<FastifyInstance> {
  const cfg = loadConfig(opts.config);
  const log = opts.logger ?? pino({ level: cfg.logLevel, base: { service: 'gateway' } });
  if (cfg.gatewayMaxInFlight < cfg.gatewayMaxBatch) {
    throw new ConfigError(`GATEWAY_MAX_IN_FLIGHT (${cfg.gatewayMaxInFlight}) must be at least GATEWAY_MAX_BATCH (${cfg.gatewayMaxBatch}), or full batches could never be taken`);
  }
  if (cfg.gatewaySiteEventsPerS > 0 && cfg.gatewaySiteEventsBurst < cfg.gatewayMaxBatch) {
    throw new ConfigError(`GATEWAY_SITE_EVENTS_BURST (${cfg.gatewaySiteEventsBurst}) must be at least GATEWAY_MAX_BATCH (${cfg.gatewayMaxBatch}), or full batches could never pass`);
  }
  const siteEvents = cfg.gatewaySiteEventsPerS > 0 ? new TokenBuckets(cfg.gatewaySiteEventsPerS, cfg.gatewaySiteEventsBurst) : null;
  const sites = siteRegistry(cfg);
  const botPolicy = parseBotPolicy(cfg.botPolicy);
  const geo = cachedGeo(opts.geo ?? (cfg.geoipMmdbPath ? mmdbGeoProvider(cfg.geoipMmdbPath) : geoipLiteProvider()));

  const metrics = gatewayMetrics();
  /** Open client connections (GATEWAY_MAX_CONNECTIONS bounds them). */
  let connections = 0;
  /** Admission control's gate, run by the server before Fastify (set once admission is built). */
  let gate: ((req: http.IncomingMessage, res: http.ServerResponse) => boolean) | null = null;
  // Node looks at its connections every connectionsCheckingInterval, so that follows the request
  // timeout; and it swaps the two timeouts when headersTimeout (60 s by default) is the longer one,
  // so that one is capped too.
  const httpOptions: http.ServerOptions = {
    requestTimeout: cfg.gatewayRequestTimeoutMs,
    headersTimeout: Math.min(60_000, cfg.gatewayRequestTimeoutMs),
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(cfg.gatewayRequestTimeoutMs / 10))),
  };
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: cfg.gatewayBodyLimit,
    // Fastify's own option (its default of 0 would switch Node's off).
    requestTimeout: cfg.gatewayRequestTimeoutMs,
    // The server itself, so that admission control can shed a request before Fastify builds
    // anything for it (see registerAdmission); otherwise what Fastify would create.
    serverFactory: (handler) => {
      const server = http.createServer(httpOptions, (req, res) => {
        if (gate?.(req, res)) return;
        handler(req, res);
      });
      server.on('connection', (socket: import('node:net').Socket) => {
        // A connection's first request is timed from its accept (admission.ts: the queue before the loop reads it).
        stampArrival(socket, performance.now());
        connections++;
        socket.once('close', () => connections--);
        // The listener's maxConnections never sees a connection handed over by the acceptor: the same bound, here.
        if (connections > cfg.gatewayMaxConnections) socket.destroy();
      });
      // Fastify's defaults for the server it would have made.
      server.keepAliveTimeout = 72_000;
      server.requestTimeout = cfg.gatewayRequestTimeoutMs;
      server.setTimeout(0);
      return server;
    },
    trustProxy: trustProxyOption(cfg.trustedProxies),
    requestIdHeader: 'x-request-id',
    // One log line per request is too many at 5,000 requests/s: failures are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    // Errors of Node's HTTP parser get a code of the catalogue, like every other answer.
    clientErrorHandler: clientErrorHandler(metrics),
  });

  if (sites.open) {
    log.warn(
      { origins: cfg.gatewayCorsOrigins },
      'GATEWAY RUNNING OPEN (demo mode): no sites configured (SITES / SITES_FILE), so any write key or none is accepted. Configure sites before exposing it.',
    );
  } else {
    log.info({ sites: [...new Set(sites.sites.map((s) => s.siteId))] }, 'sites configured; unknown write keys get 401, other origins 403');
  }
  if (cfg.trustedProxies.length) log.info({ trustedProxies: cfg.trustedProxies }, 'X-Forwarded-For trusted from these proxies only');

  // Requests arriving during a send share the next one (group commit): see coalescing-producer.ts.
  const producer = opts.producer ?? coalescingProducer(kafkaProducer(cfg, log), { lingerMs: cfg.gatewayKafkaLingerMs, maxSends: cfg.gatewayKafkaSendsInFlight });
  if (cfg.gatewayTraceHops) registerHopTrace(app, ['/v1/events']);
  const loop = new LoopLag(250, realLoopClock, (ms) => metrics.loopTurnSeconds.observe(ms / 1000));
  loop.start();
  const admission: Admission = new Admission(
    {
      maxDelayMs: cfg.gatewayMaxQueueDelayMs,
      maxBytes: cfg.gatewayMaxQueuedBytes,
      retryAfterMaxS: cfg.gatewayShedRetryAfterMaxS,
      maxRequests: cfg.gatewayMaxRequestsInFlight,
      maxLoopLagMs: cfg.gatewayMaxLoopLagMs,
      minLoopBusy: cfg.gatewayShedMinLoopBusyPct / 100,
    },
    () => delivery.eventsInFlight,
    undefined,
    loop,
  );
  const delivery = new Delivery(
    producer,
    { timeoutMs: cfg.gatewayProduceTimeoutMs, maxInFlight: cfg.gatewayMaxInFlight, retryAfterS: cfg.gatewayRetryAfterS, onAcked: (n, took) => admission.acked(n, took) },
    metrics,
  );
  const dl = deadLetters(cfg.topicPrefix, cfg.deadLetterRawBytes);
  const validate = createValidator();
  const deps = {
    topicPrefix: cfg.topicPrefix,
    validate,
    parseUa: cachedUserAgentParser(),
    geo,
    hashUserId: userIdHasher(cfg.userIdHashKey),
    keepQuery: queryAllowlist(cfg.urlQueryAllowlist),
    botPolicy,
    recent: new RecentIds(cfg.gatewayDedupMax, cfg.gatewayDedupWindowS * 1000),
    delivery,
    deadLetters: dl,
    metrics,
    waitMs: cfg.gatewayProduceTimeoutMs,
    timeWindow: { maxAgeMs: cfg.eventMaxAgeDays * 86_400_000, maxFutureMs: cfg.eventMaxFutureS * 1000 },
  };
  const ingest = createIngest(deps);

  // Both parsers read the body as text and parse it as JSON: sendBeacon posts text/plain
  // (which needs no CORS preflight), everything else posts application/json.
  app.removeAllContentTypeParsers();
  app.decorateRequest('bodyText', undefined);
  app.decorateRequest('bodyBytes', undefined);
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'buffer' }, (req, body, done) => {
    const buf = body as Buffer;
    // Refused rather than decoded with U+FFFD in place of the bad bytes: the event would no longer be what was sent.
    if (!isUtf8(buf)) {
      const e = new BodyError('GW_ERR_INVALID_UTF8');
      e.received = buf;
      done(e);
      return;
    }
    // A UTF-8 byte-order mark is tolerated (some clients write one); JSON.parse would refuse it.
    const text = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? buf.toString('utf8', 3) : buf.toString('utf8');
    req.bodyText = text;
    req.bodyBytes = buf;
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      const e = new BodyError('GW_ERR_MALFORMED_JSON', (err as Error).message);
      e.received = text;
      done(e);
    }
  });

  // Before the body is read: a compressed body or another charset is refused, not parsed as garbage.
  app.addHook('preParsing', (req, _reply, payload, done) => {
    const enc = req.headers['content-encoding'];
    if (enc !== undefined && enc.trim().toLowerCase() !== 'identity') {
      done(new GatewayError('GW_ERR_UNSUPPORTED_ENCODING', `got ${JSON.stringify(enc.slice(0, 64))}`));
      return;
    }
    const charset = charsetOf(req.headers['content-type']);
    if (charset !== null && charset !== 'utf-8' && charset !== 'utf8') {
      done(new GatewayError('GW_ERR_UNSUPPORTED_CHARSET', `got ${JSON.stringify(charset.slice(0, 64))}`));
      return;
    }
    done(null, payload);
  });

  // Callback-style hooks: an async one costs a promise per request, on every route.
  // GATEWAY_CLOSE_WHILE_OVERLOADED: the next request of a connection that arrives here while this
  // process is overloaded goes to the acceptor (fast 503 on its core, or back here once there is
  // room) rather than waiting for this busy loop to shed it late.
  const closeWhileOverloaded = opts.acceptor !== undefined && cfg.gatewayCloseWhileOverloaded;
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    if (closeWhileOverloaded && overloaded) reply.header('connection', 'close');
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    const status = reply.statusCode;
    metrics.requests.inc({ route: req.routeOptions.url ?? 'unmatched', method: req.method, status });
    // 503s are expected while Kafka is down (counted, and logged once when it goes): no line each.
    if (status >= 500 && status !== 503) req.log.warn({ status, method: req.method, url: req.url.slice(0, 256), ms: Math.round(reply.elapsedTime) }, 'request failed');
    done();
  });

  // Each connection costs memory and a descriptor: past the bound, new ones are closed at once.
  app.server.maxConnections = cfg.gatewayMaxConnections;
  // Shed before anything else when overloaded (see admission.ts); then access control.
  let overloaded = false;
  let lastShed = -Infinity;
  const acceptor = opts.acceptor;
  const setOverloaded = (on: boolean) => {
    if (on === overloaded) return;
    overloaded = on;
    acceptor?.onOverload(on);
  };
  let lastRoom = -1;
  const report = () => {
    // Also while its oldest admitted request has waited half the bound: the next one handed over would be shed here.
    setOverloaded(performance.now() - lastShed < OVERLOAD_HOLD_MS || (admission.maxDelayMs > 0 && admission.oldestAgeMs() > admission.maxDelayMs / 2));
    const room = handoverRoom({ overloaded, loopBusy: loop.runShare, oldestAgeMs: admission.oldestAgeMs(), maxDelayMs: admission.maxDelayMs });
    // Each report replaces the last: sent while there is room (the acceptor counts it down), once when there is none.
    if (room > 0 || lastRoom !== 0) acceptor?.onRoom?.(room);
    lastRoom = room;
  };
  const recovery = acceptor ? setInterval(report, ROOM_REPORT_MS).unref() : null;
  // The start-up's own work (module loading, first compilations, connecting) is no load: the room counts from ready.
  if (acceptor) app.addHook('onReady', async () => loop.restart());
  const admissionHooks = registerAdmission(app, admission, metrics, ['/v1/events', '/v1/p.gif'], {
    closeOnShed: acceptor !== undefined,
    onShed: acceptor
      ? () => {
          lastShed = performance.now();
          setOverloaded(true);
        }
      : undefined,
  });
  if (acceptor) {
    app.decorate('countAcceptorSheds', (n: number, busy?: number) => admissionHooks.countAcceptorSheds(n, busy));
    app.decorate('observeHandover', (ms: number) => metrics.handoverSeconds.observe(Math.max(0, ms) / 1000));
    app.decorate('observeAcceptorLoopDelay', (ms: number) => metrics.acceptorLoopDelaySeconds.observe(ms / 1000));
  }
  gate = admissionHooks.gate;
  const guards = await registerAccessControl(app, cfg, sites);

  registerErrorHandlers(app, { bodyLimit: cfg.gatewayBodyLimit, metrics, deadLetters: dl, delivery });

  app.post('/v1/events', { onRequest: guards.hooks() }, async (req, reply) => {
    const receivedAt = Date.now();
    let batch: ReturnType<typeof toBatch>;
    try {
      batch = toBatch(req.body, cfg.gatewayMaxBatch);
    } catch (err) {
      if (err instanceof GatewayError) {
        const e = new BodyError(err.code);
        e.message = err.message;
        e.parsed = req.body;
        e.received = req.bodyText;
        throw e;
      }
      throw err;
    }
    if (siteEvents) {
      const wait = siteEvents.take(req.site?.siteId ?? '', batch.events.length, receivedAt);
      if (wait > 0) throw new GatewayError('GW_ERR_EVENTS_RATE_LIMITED', `limit of ${cfg.gatewaySiteEventsPerS} events/s (burst ${cfg.gatewaySiteEventsBurst}) per site`, wait);
    }
    const out = await ingest({
      events: batch.events,
      sentAt: batch.sentAt,
      site: req.site,
      ip: clientIp(req) ?? '',
      userAgent: req.headers['user-agent'] ?? '',
      receivedAt,
      log: req.log,
      bodyText: req.bodyText,
      bodyBytes: req.bodyBytes,
      wantResults: wantsResults(req),
    });
    const b = out.body;
    // The common answer, written directly (no object spread, no generic serialiser).
    if (!b.results) return reply.status(out.status).type(JSON_UTF8).send(`{"accepted":${b.accepted},"duplicate":${b.duplicate},"rejected":${b.rejected},"dropped":${b.dropped},"request_id":${JSON.stringify(req.id)}}`);
    return reply.status(out.status).send({ ...b, request_id: req.id });
  });

  registerPixel(app, {
    ingest: createIngest({ ...deps, validate: pixelValidator(validate) }),
    metrics,
    guards: guards.hooks({ refererAsOrigin: true }),
    visitorKey: cfg.userIdHashKey,
  });

  if (cfg.gatewayServeSdk) await app.register(sdkRoute, { dir: cfg.gatewaySdkDir });
  if (cfg.gatewayDemoShop) await serveDemoShop(app);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ok = producer.isAvailable();
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'kafka unavailable' });
  });
  // The gauges are read and the counts kept as plain numbers added before the registry is read.
  registerMetricsRoute(app, metrics, opts.metricsPage, () => {
    metrics.kafkaAvailable.set(producer.isAvailable() ? 1 : 0);
    metrics.inFlight.set(delivery.eventsInFlight);
    metrics.queueOldestSeconds.set(admission.oldestAgeMs() / 1000);
    metrics.queuedBytes.set(admission.bytesHeld);
    metrics.requestsHeld.set(admission.requestsHeld);
    metrics.loopBusy.set(loop.utilisation);
    metrics.connections.set(connections);
    admissionHooks.flush();
  });

  // Fastify closes the listener and lets in-flight requests finish before onClose hooks run;
  // then sends that outlived their request (answered 503 after the timeout) get their time.
  app.addHook('onClose', async () => {
    loop.stop();
    if (recovery) clearInterval(recovery);
    const deadline = performance.now() + cfg.gatewayShutdownTimeoutMs;
    // Behind the acceptor the connections were handed over, not accepted by the listener, whose
    // close therefore waits for none of their requests: the admitted ones are waited for here.
    if (acceptor) while (admission.requestsHeld > 0 && performance.now() < deadline) await sleep(20);
    const drained = await delivery.drain(Math.max(0, deadline - performance.now()));
    if (!drained) log.warn({ inFlight: delivery.eventsInFlight }, 'shutdown: sends still unacknowledged after the timeout');
    await producer.close();
  });
  return app;
}
