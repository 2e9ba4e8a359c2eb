/**
 * `npm run demo`: the whole pipeline on this machine with embedded defaults. Starts Kafka and
 * Elasticsearch (fetched from Maven Central on first run), the gateway (serving the demo shop),
 * the processor as a child process of its own, and a synthetic traffic generator; prints what
 * runs where; Ctrl-C stops everything.
 *
 * The demo supervises like a process manager would: a processor that dies (say, kill -9) is
 * started again, and so is a Kafka broker that exits, after DEMO_RESTART_S seconds; meanwhile
 * the gateway answers 503 and the processor replays from its last commit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PROCESSOR_NODE_FLAGS } from '../processor/node-flags.js';
import { loadConfig } from '../common/config.js';
import { indexNames } from '../contracts/indices.js';
import { startServices } from '../infra/services.js';
import { buildApp } from '../gateway/app.js';
import { buildDashboard } from '../dashboard/app.js';
import { serveDemoShop } from './serve-demo-shop.js';
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

let processor: ChildProcess;
function startProcessorChild(): void {
  processor = spawn(process.execPath, [...PROCESSOR_NODE_FLAGS, '--import', 'tsx', 'processor/main.ts'], { cwd: root, env: childEnv, stdio: 'inherit' });
  processor.once('exit', (code, signal) => {
    if (stopping) return;
    console.log(`› processor exited (${signal ?? `code ${code}`}); starting it again in 2 s, it resumes from its last commit`);
    setTimeout(() => !stopping && startProcessorChild(), 2000);
  });
}
startProcessorChild();

const scenarios = parseScenarios(cfg.demoScenario);
// The generator's visits carry X-Forwarded-For (their countries, and network-burst's network):
// believed from the local generator only when scenarios are on, as a proxy in front would be.
const gateway = await buildApp({ config: { ...kc, esUrl: services.esUrl, ...(scenarios.length && cfg.trustedProxies.length === 0 ? { trustedProxies: ['127.0.0.1'] } : {}) } });
await serveDemoShop(gateway);
await gateway.listen({ host: cfg.gatewayHost, port: cfg.gatewayPort, backlog: cfg.gatewayListenBacklog });
const endpoint = `http://${cfg.gatewayHost}:${cfg.gatewayPort}`;

// The live dashboard reads what the processor writes to Elasticsearch.
const dashboard = await buildDashboard({ config: { esUrl: services.esUrl } });
const dashboardUrl = `${await dashboard.listen({ host: cfg.dashboardHost, port: cfg.dashboardPort })}/`;

// Kafka that exits (crash or kill) comes back on the same data after a pause.
let kafkaRestarting = false;
const kafkaWatch = setInterval(() => {
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

// The gateway answers 503 until its producer has connected; start the traffic once it is ready.
for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
  if ((await gateway.inject('/readyz')).statusCode === 200) break;
}

const abort = new AbortController();
let accepted = 0;
let refused = 0;
const traffic =
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
    : Promise.resolve({ sent: 0, failed: 0 });

const idx = indexNames(cfg.esIndexPrefix);
console.log(`
  Clickstream pipeline is running (Ctrl-C stops everything)

  Gateway           ${endpoint}   POST /v1/events, /healthz, /readyz, /metrics   (pid ${process.pid}, this process)
  Demo shop         ${endpoint}/demo/
  Live dashboard    ${dashboardUrl}   KPIs, top URLs x country, sessions, alerts (JSON under api/)
  Processor         pid ${processor!.pid}   metrics http://${cfg.processorMetricsHost}:${cfg.processorMetricsPort}/metrics
  Kafka             ${services.kafkaBrokers.join(',')}   pid ${services.kafka.pid}   topics page_views, clicks, add_to_cart, purchases, events_dead_letter
  Elasticsearch     ${services.esUrl}   pid ${services.elasticsearch.pid}
                    indices ${idx.eventsPattern}, ${idx.kpis}, ${idx.urlStats}, ${idx.sessions}, ${idx.alerts}
  Traffic generator ${cfg.demoRate} events/s (DEMO_RATE; 0 for none)${scenarios.length ? `, anomaly scenarios ${scenarios.join(', ')} (DEMO_SCENARIO)` : ''}

  Try:  curl -s '${services.esUrl}/${idx.eventsPattern}/_count'
        KIBANA_URL=http://127.0.0.1:5601 npm run kibana:import   (with a Kibana 8.9+ of your own on ${services.esUrl})
`);

const ticker =
  cfg.demoRate > 0 ? setInterval(() => console.log(`  traffic: ${accepted} events accepted, ${refused} refused`), 10_000) : undefined;

async function stop(sig: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n› ${sig}: stopping traffic, gateway, dashboard, processor, Kafka and Elasticsearch…`);
  clearInterval(ticker);
  clearInterval(kafkaWatch);
  abort.abort();
  await traffic.catch(() => undefined);
  await gateway.close().catch((e) => console.error(e));
  await dashboard.close().catch((e) => console.error(e));
  if (processor.exitCode === null && processor.signalCode === null) {
    const exited = new Promise((r) => processor.once('exit', r));
    processor.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    processor.kill('SIGKILL');
  }
  await services.stop();
  console.log('› stopped');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
