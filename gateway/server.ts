import { ConfigError, type Config } from '../contracts/config.js';
import { loadConfig } from '../common/config.js';
import { buildApp } from './app.js';

/** Starts the gateway from the environment (and `overrides`). Config errors throw before anything listens. */
export async function startGateway(overrides: Partial<Config> = {}) {
  const cfg = loadConfig(overrides);
  const app = await buildApp({ config: overrides });
  await app.listen({ host: cfg.gatewayHost, port: cfg.gatewayPort });
  return app;
}

/**
 * Graceful shutdown on SIGINT / SIGTERM: the listener closes at once (no new connections;
 * requests arriving on kept-alive ones get 503), requests in flight finish, sends that outlived
 * their request get GATEWAY_SHUTDOWN_TIMEOUT_MS to be acknowledged, then the producer
 * disconnects. A second signal, or a shutdown taking far too long, exits at once.
 */
if (import.meta.url === `file://${process.argv[1]}`) {
  let app: Awaited<ReturnType<typeof startGateway>>;
  try {
    app = await startGateway();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`gateway: configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const cfg = loadConfig();
  let closing = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, async () => {
      if (closing) {
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
