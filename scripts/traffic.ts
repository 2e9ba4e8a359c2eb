/**
 * `npm run traffic -- [rate] [endpoint] [--scenario click-burst,network-burst,bot-session,purchases-stop]`:
 * synthetic shoppers against a running gateway, until Ctrl-C, with labelled anomalies injected
 * every 2 minutes (also from DEMO_SCENARIO).
 */
import { runTraffic } from './traffic-generator.js';
import { parseScenarios } from './demo-scenarios.js';

const flag = process.argv.indexOf('--scenario');
const scenarioArg = flag >= 0 ? process.argv.splice(flag, 2)[1] ?? '' : (process.env.DEMO_SCENARIO ?? '');
let scenarios;
try {
  scenarios = parseScenarios(scenarioArg);
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}

const rate = Number(process.argv[2] ?? 50);
const endpoint = process.argv[3] ?? 'http://127.0.0.1:8080/v1/events';
const abort = new AbortController();
process.on('SIGINT', () => abort.abort());
let ok = 0;
let bad = 0;
const t = setInterval(() => console.log(`${ok} events accepted, ${bad} refused`), 5000);
await runTraffic({
  endpoint,
  rate,
  site: process.env.SITE,
  signal: abort.signal,
  onBatch: (s, n) => (s < 300 ? (ok += n) : (bad += n)),
  scenarios,
  onScenario: (s, expect) => console.log(`scenario ${s}: ${expect}`),
});
clearInterval(t);
console.log(`done: ${ok} accepted, ${bad} refused`);
