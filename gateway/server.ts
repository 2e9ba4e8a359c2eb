import { ConfigError, type Config } from '../contracts/config.js';
import { loadConfig } from '../common/config.js';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { levels } from 'pino';
import type { BuildOptions } from './app.js';
import { isAcceptorMessage, type AcceptorMessage } from './acceptor.js';
import { HANDOVER_MAX_WAIT_MS } from './handover-pipe.js';
import { isMetricsMessage, metricsClient } from './cluster-metrics.js';
import { stampArrival } from './admission-hooks.js';
import { CONFIG_ERROR_EXIT, isWorker, runWorkers, workerSettings } from './workers.js';

/**
 * Starts the gateway from the environment (and `overrides`). Config errors throw before anything listens.
 * The app is imported here, not at the top: a supervising or accepting primary never loads it (nor
 * geoip-lite's tables, a few hundred MB).
 */
export async function startGateway(overrides: Partial<Config> = {}) {
  const cfg = loadConfig(overrides);
  if (cfg.gatewayAcceptor && isWorker()) return startBehindAcceptor({ config: overrides });
  const { buildApp } = await import('./app.js');
  const metrics = isWorker() ? processMetrics() : null;
  const app = await buildApp({ config: overrides, metricsPage: metrics?.page });
  metrics?.start(app);
  await app.listen({ host: cfg.gatewayHost, port: cfg.gatewayPort, backlog: cfg.gatewayListenBacklog });
  return app;
}

/**
 * In a process of a gateway of several (workers.ts): GET /metrics answers the whole gateway's page,
 * which the primary sums from every process's own metrics (cluster-metrics.ts).
 */
function processMetrics() {
  let app: FastifyInstance | null = null;
  const client = metricsClient(
    (m) => process.send?.(m),
    async () => (app ? app.ownMetrics() : []),
  );
  return {
    page: client.page,
    /** Called once the app is built: this process answers the primary's collections from then on. */
    start(built: FastifyInstance): void {
      app = built;
      process.on('message', (m: unknown) => {
        if (isMetricsMessage(m)) client.onMessage(m);
      });
      client.ready();
    },
  };
}

/**
 * A gateway process behind the acceptor (acceptor.ts): its connections come from the acceptor
 * process, with the bytes it already read from them. It listens on a loopback port of its own too
 * (only so that Node runs its request and header timeouts, which start with listening).
 */
export async function startBehindAcceptor(opts: Omit<BuildOptions, 'acceptor'>) {
  const send = (m: AcceptorMessage) => process.send?.(m);
  const { buildApp } = await import('./app.js');
  // Behind the acceptor means a process of the primary's (workers.ts), but a caller outside one has no primary to sum with.
  const metrics = isWorker() ? processMetrics() : null;
  const app = await buildApp({ ...opts, metricsPage: metrics?.page, acceptor: { onOverload: (on) => send({ cmd: 'gw:overload', on }), onRoom: (n) => send({ cmd: 'gw:room', n }) } });
  metrics?.start(app);
  await app.listen({ host: '127.0.0.1', port: 0, exclusive: true });
  process.on('message', (m: unknown, socket?: Socket) => {
    if (!isAcceptorMessage(m)) return;
    if (m.cmd === 'gw:conn' && socket) {
      // Its clock starts where the acceptor took it (shared wall clock): the hand-over's queue counts.
      if (m.at) {
        stampArrival(socket, m.at - performance.timeOrigin, m.head !== '');
        app.observeHandover?.(performance.timeOrigin + performance.now() - m.at);
      }
      app.server.emit('connection', socket);
      if (m.head) socket.emit('data', Buffer.from(m.head, 'latin1'));
      socket.resume();
    } else if (m.cmd === 'gw:shed') {
      if (m.n > 0) app.countAcceptorSheds?.(m.n, m.busy);
      if (m.loopDelayMs !== undefined) app.observeAcceptorLoopDelay?.(m.loopDelayMs);
    }
  });
  send({ cmd: 'gw:ready' });
  return app;
}

/**
 * Graceful shutdown on SIGINT / SIGTERM: the listener closes at once (no new connections;
 * requests arriving on kept-alive ones get 503), requests in flight finish, sends that outlived
 * their request get GATEWAY_SHUTDOWN_TIMEOUT_MS to be acknowledged, then the producer
 * disconnects. A second signal, or a shutdown taking far too long, exits at once; except in a
 * worker of the primary (workers.ts), where one Ctrl-C arrives twice (from the terminal, to its
 * whole process group, and passed on by the primary): there the primary alone decides to cut
 * the shutdown short.
 */
async function runOne() {
  let app: Awaited<ReturnType<typeof startGateway>>;
  try {
    app = await startGateway();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`gateway: configuration error: ${err.message}`);
      process.exit(CONFIG_ERROR_EXIT);
    }
    throw err;
  }
  const cfg = loadConfig();
  let closing = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, async () => {
      if (closing) {
        if (isWorker()) return app.log.info({ sig }, 'already closing');
        app.log.warn({ sig }, 'second signal: exiting now');
        process.exit(1);
      }
      closing = true;
      app.log.info({ sig }, 'closing: no new requests, waiting for in-flight sends');
      setTimeout(() => {
        app.log.error('shutdown took too long; exiting');
        process.exit(1);
      }, cfg.gatewayShutdownTimeoutMs + 15_000).unref();
      await app.close();
      app.log.info('closed');
      process.exit(0);
    });
  }
}

/** GATEWAY_WORKERS > 1: this process only supervises that many gateway processes (workers.ts). */
if (import.meta.url === `file://${process.argv[1]}`) {
  let cfg: Config;
  try {
    cfg = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`gateway: configuration error: ${err.message}`);
    process.exit(CONFIG_ERROR_EXIT);
  }
  if (cfg.gatewayWorkers < 1) {
    console.error(`gateway: configuration error: GATEWAY_WORKERS must be at least 1, got ${cfg.gatewayWorkers}`);
    process.exit(CONFIG_ERROR_EXIT);
  }
  // Started by a supervisor through an IPC channel (`npm run demo`): if it dies without stopping
  // this gateway, the channel closes, and the gateway shuts down as on SIGTERM instead of living on.
  // Not once a signal came: a second one would cut the shutdown under way short (workers.ts).
  let signalled = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => (signalled = true));
  if (process.send && !isWorker()) process.once('disconnect', () => signalled || process.kill(process.pid, 'SIGTERM'));
  if ((cfg.gatewayWorkers > 1 || cfg.gatewayAcceptor) && !isWorker()) {
    // Lines like the workers' (pino's numeric levels), and as they do, only at LOG_LEVEL or above.
    const minLevel = levels.values[cfg.logLevel] ?? (cfg.logLevel === 'silent' ? Infinity : 0);
    const line = (level: number) => (msg: string) => level >= minLevel && console.log(JSON.stringify({ level, time: Date.now(), service: 'gateway', msg }));
    const acceptor = cfg.gatewayAcceptor
      ? {
          host: cfg.gatewayHost,
          port: cfg.gatewayPort,
          backlog: cfg.gatewayListenBacklog,
          maxConnections: cfg.gatewayMaxConnections,
          retryAfterMaxS: cfg.gatewayShedRetryAfterMaxS,
          // A request kept for a process that is not overloaded waits for it at most as long as a shed
          // may take to be answered (GATEWAY_ACCEPTOR_MAX_WAIT_MS), and never past half the queueing bound.
          keptMaxWaitMs: cfg.gatewayMaxQueueDelayMs > 0 ? Math.max(HANDOVER_MAX_WAIT_MS, Math.min(cfg.gatewayAcceptorMaxWaitMs, cfg.gatewayMaxQueueDelayMs / 2)) : undefined,
          log: line(40),
        }
      : null;
    process.exit(await runWorkers(cfg.gatewayWorkers, { info: line(30), error: line(50) }, cfg.gatewayShutdownTimeoutMs, acceptor, workerSettings(cfg)));
  } else {
    await runOne();
  }
}
