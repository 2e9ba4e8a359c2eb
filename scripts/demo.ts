/**
 * `npm run demo`: the whole pipeline on this machine with embedded defaults. Starts Kafka and
 * Elasticsearch (fetched from Maven Central on first run), the gateway, the processor and a
 * synthetic traffic generator; prints what runs where; Ctrl-C stops everything.
 */
import { loadConfig } from '../contracts/config.js';
import { indexNames } from '../contracts/indices.js';
import { startServices } from '../infra/services.js';
import { buildApp } from '../gateway/app.js';
import { serveDemoShop } from './serve-demo-shop.js';
import { startProcessor } from '../processor/main.js';
import { runTraffic } from './traffic-generator.js';

const cfg = loadConfig();
const t0 = Date.now();
console.log('› starting Kafka and Elasticsearch (first run downloads them from Maven Central)…');
const services = await startServices({ dataDir: cfg.dataDir });
console.log(`› services healthy in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const gateway = await buildApp({ config: { kafkaBrokers: services.kafkaBrokers, esUrl: services.esUrl } });
await serveDemoShop(gateway);
await gateway.listen({ host: cfg.gatewayHost, port: cfg.gatewayPort });
const processor = await startProcessor({ kafkaBrokers: services.kafkaBrokers, esUrl: services.esUrl });
const endpoint = `http://${cfg.gatewayHost}:${cfg.gatewayPort}`;

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
      })
    : Promise.resolve({ sent: 0, failed: 0 });

const idx = indexNames(cfg.esIndexPrefix);
console.log(`
  Clickstream pipeline is running (Ctrl-C stops everything)

  Gateway           ${endpoint}   POST /v1/events, /healthz, /readyz, /metrics
  Demo shop         ${endpoint}/demo/
  Kafka             ${services.kafkaBrokers.join(',')}   topics page_views, clicks, add_to_cart, purchases, events_dead_letter
  Elasticsearch     ${services.esUrl}   indices ${idx.eventsPattern}, ${idx.kpis}, ${idx.urlStats}, ${idx.sessions}, ${idx.alerts}
  Processor metrics http://${cfg.processorMetricsHost}:${cfg.processorMetricsPort}/metrics
  Traffic generator ${cfg.demoRate} events/s (DEMO_RATE)

  Try:  curl -s '${services.esUrl}/${idx.eventsPattern}/_count'
`);

const ticker = setInterval(() => {
  console.log(`  traffic: ${accepted} events accepted, ${refused} refused`);
}, 10_000);

let stopping = false;
async function stop(sig: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n› ${sig}: stopping traffic, gateway, processor, Kafka and Elasticsearch…`);
  clearInterval(ticker);
  abort.abort();
  await traffic.catch(() => undefined);
  await gateway.close().catch((e) => console.error(e));
  await processor.stop().catch((e) => console.error(e));
  await services.stop();
  console.log('› stopped');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
