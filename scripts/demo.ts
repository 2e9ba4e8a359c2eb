/**
 * `npm run demo`: the whole pipeline on this machine with embedded defaults. Starts Kafka and
 * Elasticsearch (fetched from Maven Central on first run), the gateway as `npm run gateway` starts
 * it (gateway/server.ts: the acceptor and its gateway processes, by default, with the same
 * settings; GATEWAY_DEMO_SHOP serves the demo shop), the processor, each as child processes of
 * their own, the dashboard and a synthetic traffic generator in this process; prints what runs
 * where; Ctrl-C stops everything, and so does a failure of the demo itself.
 *
 * The demo supervises like a process manager would: a gateway or processor that dies (say,
 * kill -9) is started again after 2 s, and so is a Kafka broker that exits, after DEMO_RESTART_S
 * seconds; meanwhile the gateway answers 503 and the processor replays from its last commit.
 */
import { fileURLToPath } from 'node:url';
import { PROCESSOR_NODE_FLAGS } from '../processor/node-flags.js';
import { loadConfig } from '../common/config.js';
import { indexNames } from '../contracts/indices.js';
import { startServices } from '../infra/services.js';
import { CONFIG_ERROR_EXIT } from '../gateway/workers.js';
import { buildDashboard } from '../dashboard/app.js';
import { sleep } from '../common/wait.js';
import { DemoChild } from './demo-child.js';
import { runTraffic } from './traffic-generator.js';
import { parseScenarios } from './demo-scenarios.js';

const root = fileURLToPath(new URL('..', import.meta.url));
// The banner and the traffic ticker are the demo's output; services log warnings and errors only.
process.env.LOG_LEVEL ??= 'warn';
const cfg = loadConfig();
const restartMs = cfg.demoRestartS * 1000;
const t0 = Date.now();
console.log('› starting Kafka and Elasticsearch (first run downloads them from Maven Central)…');
const services = await startServices({ dataDir: cfg.dataDir });
console.log(`› services healthy in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const kc = services.kafkaClient; // TLS and SCRAM login too with KAFKA_LOCAL_SECURE
const childEnv = {
  ...process.env,
  KAFKA_BROKERS: kc.kafkaBrokers.join(','),
  KAFKA_SSL: String(kc.kafkaSsl),
  KAFKA_SSL_CA_FILE: kc.kafkaSslCaFile,
  KAFKA_SASL_MECHANISM: kc.kafkaSaslMechanism,
  KAFKA_SASL_USERNAME: kc.kafkaSaslUsername,
  KAFKA_SASL_PASSWORD: kc.kafkaSaslPassword,
  ES_URL: services.esUrl,
};
let stopping = false;
let gateway: DemoChild | undefined;
let processor: DemoChild | undefined;
let dashboard: Awaited<ReturnType<typeof buildDashboard>> | undefined;
let kafkaWatch: NodeJS.Timeout | undefined;
let ticker: NodeJS.Timeout | undefined;
const abort = new AbortController();
let traffic: Promise<unknown> = Promise.resolve();
// Whatever way this process ends, its children do not outlive it.
process.on('exit', () => {
  gateway?.terminate();
  processor?.terminate();
});

async function run(): Promise<void> {
  processor = new DemoChild({
    name: 'processor',
    args: [...PROCESSOR_NODE_FLAGS, '--import', 'tsx', 'processor/main.ts'],
    cwd: root,
    env: childEnv,
    restartMs: 2000,
    restartNote: ', it resumes from its last commit',
    graceMs: 15_000,
  });

  const scenarios = parseScenarios(cfg.demoScenario);
  // The generator's visits carry X-Forwarded-For (their countries, and network-burst's network):
  // believed from the local generator only when scenarios are on, as a proxy in front would be.
  const trustLocal = scenarios.length > 0 && cfg.trustedProxies.length === 0;
  gateway = new DemoChild({
    name: 'gateway',
    args: ['--import', 'tsx', 'gateway/server.ts'],
    cwd: root,
    env: { ...childEnv, GATEWAY_DEMO_SHOP: 'true', ...(trustLocal ? { TRUSTED_PROXIES: '127.0.0.1' } : {}) },
    restartMs: 2000,
    // The gateway's own shutdown is bounded by this; its primary adds 20 s for a stuck worker.
    graceMs: cfg.gatewayShutdownTimeoutMs + 25_000,
    ownGroup: true,
    fatalExitCode: CONFIG_ERROR_EXIT,
    onFatal: () => void stop('gateway configuration error', 1),
  });
  const endpoint = `http://${cfg.gatewayHost}:${cfg.gatewayPort}`;

  // The live dashboard reads what the processor writes to Elasticsearch.
  dashboard = await buildDashboard({ config: { esUrl: services.esUrl } });
  const dashboardUrl = `${await dashboard.listen({ host: cfg.dashboardHost, port: cfg.dashboardPort })}/`;

  // Kafka that exits (crash or kill) comes back on the same data after a pause.
  let kafkaRestarting = false;
  kafkaWatch = setInterval(() => {
    if (stopping || kafkaRestarting || services.kafka.running) return;
    kafkaRestarting = true;
    console.log(`› Kafka exited; starting it again in ${restartMs / 1000} s (DEMO_RESTART_S). Until then the gateway answers 503.`);
    setTimeout(async () => {
      try {
        if (!stopping) await services.kafka.start();
        console.log(`› Kafka is back (pid ${services.kafka.pid})`);
      } catch (err) {
        console.error(`› Kafka did not come back: ${(err as Error).message}`);
      } finally {
        kafkaRestarting = false;
      }
    }, restartMs);
  }, 1000);

  // The gateway answers 503 until a gateway process is up and its producer has connected; start the traffic once it is ready.
  let ready = false;
  for (const deadline = Date.now() + 60_000; !ready && !stopping && Date.now() < deadline; await sleep(250)) {
    ready = await fetch(`${endpoint}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status === 200,
      () => false,
    );
  }
  if (stopping) return;
  if (!ready) console.log(`› the gateway is not ready after 60 s (${endpoint}/readyz); starting the traffic anyway`);

  let accepted = 0;
  let refused = 0;
  traffic =
    cfg.demoRate > 0
      ? runTraffic({
          endpoint: `${endpoint}/v1/events`,
          rate: cfg.demoRate,
          site: 'demo',
          signal: abort.signal,
          onBatch: (status, n) => (status < 300 ? (accepted += n) : (refused += n)),
          scenarios,
          onScenario: (s, expect) => console.log(`  scenario ${s}: ${expect} (dashboard: alerts panel)`),
        })
      : Promise.resolve();

  const idx = indexNames(cfg.esIndexPrefix);
  const gatewayProcs = cfg.gatewayAcceptor ? `the acceptor and ${cfg.gatewayWorkers} gateway process(es)` : `${cfg.gatewayWorkers} gateway process(es)`;
  console.log(`
  Clickstream pipeline is running (Ctrl-C stops everything)

  Gateway           ${endpoint}   POST /v1/events, /healthz, /readyz, /metrics   (pid ${gateway.pid}: ${gatewayProcs}, as \`npm run gateway\`)
  Demo shop         ${endpoint}/demo/
  Live dashboard    ${dashboardUrl}   KPIs, top URLs x country, sessions, alerts (JSON under api/)   (pid ${process.pid}, this process)
  Processor         pid ${processor.pid}   metrics http://${cfg.processorMetricsHost}:${cfg.processorMetricsPort}/metrics
  Kafka             ${services.kafkaBrokers.join(',')}   pid ${services.kafka.pid}   topics page_views, clicks, add_to_cart, purchases, events_dead_letter
  Elasticsearch     ${services.esUrl}   pid ${services.elasticsearch.pid}
                    indices ${idx.eventsPattern}, ${idx.kpis}, ${idx.urlStats}, ${idx.sessions}, ${idx.alerts}
  Traffic generator ${cfg.demoRate} events/s (DEMO_RATE; 0 for none)${scenarios.length ? `, anomaly scenarios ${scenarios.join(', ')} (DEMO_SCENARIO)` : ''}

  Try:  curl -s '${services.esUrl}/${idx.eventsPattern}/_count'
        KIBANA_URL=http://127.0.0.1:5601 npm run kibana:import   (with a Kibana 8.9+ of your own on ${services.esUrl})
`);

  ticker = cfg.demoRate > 0 ? setInterval(() => console.log(`  traffic: ${accepted} events accepted, ${refused} refused`), 10_000) : undefined;
}

async function stop(why: string, code = 0) {
  if (stopping) return;
  stopping = true;
  console.log(`\n› ${why}: stopping traffic, gateway, dashboard, processor, Kafka and Elasticsearch…`);
  clearInterval(ticker);
  clearInterval(kafkaWatch);
  abort.abort();
  await traffic.catch(() => undefined);
  await Promise.all([gateway?.stop(), dashboard?.close().catch((e) => console.error(e)), processor?.stop()]);
  await services.stop();
  console.log('› stopped');
  process.exit(code);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
await run().catch((err: Error) => stop(`the demo failed (${err.message})`, 1));
