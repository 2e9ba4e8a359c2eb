/**
 * The real gateway app for tests that go through its HTTP API: built from the test's settings,
 * listening on loopback (a free port, or the one given), ready (GET /readyz answers 200).
 */
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Config } from '../../contracts/config.js';
import { waitFor } from '../../common/wait.js';
import { buildApp } from '../../gateway/app.js';

export interface TestGateway {
  app: FastifyInstance;
  /** http://127.0.0.1:<port> */
  base: string;
}

/** Closed again if it fails to come up; the caller closes it (`app.close()`) otherwise. */
export async function startGateway(cfg: Partial<Config>, opts: { port?: number } = {}): Promise<TestGateway> {
  const app = await buildApp({ config: cfg, logger: pino({ level: 'warn' }) });
  try {
    const base = await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 'gateway ready', 30_000);
    return { app, base };
  } catch (err) {
    await app.close();
    throw err;
  }
}
