import { loadConfig } from '../contracts/config.js';
import { buildApp } from './app.js';

/** Starts the gateway from the environment and closes it gracefully on SIGINT / SIGTERM. */
export async function startGateway(overrides = {}) {
  const cfg = loadConfig(overrides);
  const app = await buildApp({ config: overrides });
  await app.listen({ host: cfg.gatewayHost, port: cfg.gatewayPort });
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await startGateway();
  let closing = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, async () => {
      if (closing) return;
      closing = true;
      app.log.info({ sig }, 'closing: no new requests, waiting for in-flight sends');
      await app.close();
      process.exit(0);
    });
  }
}
