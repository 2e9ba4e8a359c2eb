/**
 * The processes bench:gateway measures, each in its own Node process with its log in
 * <dataDir>/logs: the real gateway (gateway/server.ts), the gateway with its producer swapped
 * (bench/gateway-variant-server.ts) and the bare Fastify route (bench/bare-server.ts).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { configToEnv, type Config } from '../../contracts/config.js';
import { loadConfig } from '../../common/config.js';
import { workerHeapFlags, workerSettings } from '../../gateway/workers.js';
import type { KafkaBroker } from '../../infra/kafka.js';
import { NodeChild, cpuSecondsOfTree, httpOk } from './child.js';
import { onCleanup } from './run.js';
import { clientEnv } from './secure.js';

export type KafkaClientName = 'platformatic' | 'kafkajs';

export interface GatewayProcessOptions {
  dataDir: string;
  kafkaPort: number;
  /** How every client reaches the bench's broker (TLS and SASL with --secure). */
  kafkaClient: KafkaBroker['clientConfig'];
}

export function gatewayProcesses(o: GatewayProcessOptions) {
  const logFile = (name: string) => path.join(o.dataDir, 'logs', `${name}.log`);

  function gatewayEnv(client: KafkaClientName, port: number, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      NODE_ENV: 'production',
      ...configToEnv({
        gatewayHost: '127.0.0.1',
        gatewayPort: port,
        gatewayKafkaClient: client,
        kafkaBrokers: [`127.0.0.1:${o.kafkaPort}`],
        topicPrefix: '',
        logLevel: 'warn',
        // All load comes from one address and one site: the limits stay on (their cost is part of
        // a request's), set far above anything this run can send.
        gatewayRateLimitIp: 1_000_000_000,
        gatewayRateLimitSite: 1_000_000_000,
        gatewaySiteEventsPerS: 1_000_000_000,
        gatewaySiteEventsBurst: 1_000_000_000,
        // Like a gateway behind a load balancer: the client address (for geo) comes from X-Forwarded-For.
        trustedProxies: ['127.0.0.1'],
        sites: '',
        sitesFile: '',
      }),
      ...clientEnv(o.kafkaClient),
      ...extra,
    };
  }

  return {
    /**
     * The real gateway (gateway/server.ts) on `port` with the given Kafka client library, as
     * given settings (e.g. GATEWAY_WORKERS processes); its CPU is the whole tree's (primary and workers).
     */
    async gateway(name: string, client: KafkaClientName, port: number, nodeFlags: string[] = [], settings: Partial<Config> = {}, root = ''): Promise<NodeChild & { treeCpuSeconds(): number }> {
      // `root`: another checkout's gateway (bench:gateway --ab-root), the same settings.
      // At info the primary logs how many processes it starts and each one's start (no request is logged at info).
      const env = gatewayEnv(client, port, configToEnv({ logLevel: 'info', ...settings }));
      const gw = new NodeChild(name, root ? path.join(path.resolve(root), 'gateway/server.ts') : 'gateway/server.ts', { env, logFile: logFile(name), nodeFlags });
      onCleanup(name, () => gw.stop());
      await gw.waitReady(() => httpOk(`http://127.0.0.1:${port}/readyz`), 60_000);
      // Every process up, not just the first one (listening on the shared port, or ready behind the
      // acceptor): as many as the primary said it starts, whatever that checkout's default.
      await gw.waitReady(async () => {
        const text = await readFile(gw.logFile, 'utf8');
        const n = /gateway: (\d+) worker processes/.exec(text);
        return !n || text.split(/ listening on port | ready behind the acceptor on port /).length > Number(n[1]);
      }, 60_000);
      return Object.assign(gw, { treeCpuSeconds: () => (gw.alive ? cpuSecondsOfTree(gw.pid) : NaN) });
    },
    /** The gateway with its producer swapped: `stub` (acknowledges at once) or `uncoalesced` (one Kafka send per request). */
    async variant(name: 'stub' | 'uncoalesced', client: KafkaClientName, port: number, nodeFlags: string[] = [], root = ''): Promise<NodeChild> {
      // `root`: another checkout's variant server and gateway (bench:gateway --ab-root).
      // With a gateway process's V8 flags (gateway/workers.ts starts each process of the default
      // layout with them): without, the stub measured V8's allocation-site pretenuring and its
      // 1 MB starting young generation as the gateway's own work.
      const heapFlags = workerHeapFlags(workerSettings(loadConfig()));
      const child = new NodeChild(name, root ? path.join(path.resolve(root), 'bench/gateway-variant-server.ts') : 'bench/gateway-variant-server.ts', {
        env: gatewayEnv(client, port, { VARIANT: name }),
        logFile: logFile(`${name}${root ? '-ab' : ''}${nodeFlags.length ? '-profiled' : ''}`),
        nodeFlags: [...heapFlags, ...nodeFlags],
      });
      onCleanup(`${name}${root ? '-ab' : ''}`, () => child.stop());
      await child.waitReady(() => httpOk(`http://127.0.0.1:${port}/readyz`), 60_000);
      return child;
    },
    /** The bare Fastify route that only parses the same bodies. */
    async bare(port: number): Promise<NodeChild> {
      const bare = new NodeChild('bare', 'bench/bare-server.ts', { env: { ...process.env, NODE_ENV: 'production', BARE_PORT: String(port) }, logFile: logFile('bare') });
      onCleanup('bare', () => bare.stop());
      await bare.waitReady(() => httpOk(`http://127.0.0.1:${port}/healthz`), 30_000);
      return bare;
    },
  };
}
