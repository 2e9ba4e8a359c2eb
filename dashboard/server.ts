import { ConfigError, type Config } from '../contracts/config.js';
import { loadConfig } from '../common/config.js';
import { buildDashboard } from './app.js';

/** Starts the dashboard from the environment (and `overrides`); returns the app and its URL. */
export async function startDashboard(overrides: Partial<Config> = {}) {
  const cfg = loadConfig(overrides);
  const app = await buildDashboard({ config: overrides });
  const url = await app.listen({ host: cfg.dashboardHost, port: cfg.dashboardPort });
  return { app, url: `${url}/` };
}

/** `npm run dashboard`: config errors exit 2; SIGINT / SIGTERM close it (a second one exits at once). */
if (import.meta.url === `file://${process.argv[1]}`) {
  let started: Awaited<ReturnType<typeof startDashboard>>;
  try {
    started = await startDashboard();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`dashboard: configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const { app, url } = started;
  app.log.info({ url }, 'dashboard listening');
  let closing = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, async () => {
      if (closing) process.exit(1);
      closing = true;
      setTimeout(() => process.exit(1), 10_000).unref();
      await app.close();
      process.exit(0);
    });
  }
}
