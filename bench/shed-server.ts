/**
 * The gateway for bench/shed-cost.ts: the real app (buildApp) whose Kafka never acknowledges, with
 * one request in flight at most, so that once one request is admitted every further ingest request
 * is shed (GW_ERR_OVERLOADED, reason `requests`). Port from GATEWAY_PORT.
 *
 *   MODE=inline    one process: the gateway's own thread sheds (admission.ts's server gate).
 *   MODE=acceptor  the acceptor process in front of one gateway process (GATEWAY_ACCEPTOR,
 *                  acceptor.ts): once the gateway process has shed, the acceptor sheds.
 */
import cluster from 'node:cluster';
import type { Config } from '../contracts/config.js';
import { loadConfig } from '../common/config.js';
import type { EventProducer } from '../gateway/event-producer.js';
import { startBehindAcceptor } from '../gateway/server.js';
import { runWorkers } from '../gateway/workers.js';

const mode = process.env.MODE ?? 'inline';
if (mode !== 'inline' && mode !== 'acceptor') throw new Error(`MODE must be inline or acceptor, got ${mode}`);
/** Kafka that takes every send and never answers: the one admitted request stays in flight. */
const never: EventProducer = { send: () => new Promise(() => {}), isAvailable: () => true, async close() {} };
const config: Partial<Config> = { gatewayMaxRequestsInFlight: 1, gatewayProduceTimeoutMs: 3_600_000, gatewayMaxLoopLagMs: 0 };
const cfg = loadConfig(config);

if (mode === 'inline') {
  const { buildApp } = await import('../gateway/app.js');
  const app = await buildApp({ producer: never, config });
  await app.listen({ host: '127.0.0.1', port: cfg.gatewayPort, backlog: cfg.gatewayListenBacklog });
} else if (cluster.isPrimary) {
  const line = (msg: string) => console.log(msg);
  const acceptor = { host: '127.0.0.1', port: cfg.gatewayPort, backlog: cfg.gatewayListenBacklog, maxConnections: cfg.gatewayMaxConnections, retryAfterMaxS: cfg.gatewayShedRetryAfterMaxS };
  process.exit(await runWorkers(1, { info: line, error: line }, 1000, acceptor));
} else {
  await startBehindAcceptor({ producer: never, config });
}
if (mode === 'inline' || !cluster.isPrimary) process.once('SIGTERM', () => process.exit(0));
