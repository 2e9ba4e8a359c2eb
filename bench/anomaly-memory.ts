/**
 * npm run bench:anomaly [-- --keys 1000000 --max-keys 100000]
 *
 * Memory and speed of the burst detectors and the bot-session model as the number of distinct
 * keys grows: feeds clicks from `keys` distinct visitors (each on its own network prefix and
 * session) and prints the heap after a GC at several points, beside the same run with ten times
 * fewer keys, and the clicks per second the detectors take on one core. The detectors hold at
 * most --max-keys keys each, so the heap must level off once that many were seen.
 */
import { parseArgs } from 'node:util';
import { ClickBurstDetectors } from '../processor/anomaly/burst.js';
import { BotSessionModel } from '../processor/anomaly/bot-sessions.js';
import { anomalyOptionsFromConfig } from '../processor/anomaly/options.js';
import { loadConfig } from '../common/config.js';

const { values } = parseArgs({ options: { keys: { type: 'string', default: '1000000' }, 'max-keys': { type: 'string', default: '100000' } } });
const keys = Number(values.keys);
const maxKeys = Number(values['max-keys']);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('bench:anomaly needs node --expose-gc (npm run bench:anomaly passes it)\n');
  process.exit(2);
}
const o = anomalyOptionsFromConfig(loadConfig());
const heapMb = () => {
  gc();
  return process.memoryUsage().heapUsed / 1e6;
};

function run(n: number) {
  const base = heapMb();
  const bursts = new ClickBurstDetectors({ ...o.visitorBursts, maxKeys }, { ...o.networkBursts, maxKeys });
  const bots = new BotSessionModel({ ...o.bots, maxOpen: maxKeys });
  const points: string[] = [];
  const started = process.hrtime.bigint();
  // Three clicks per visitor, 1 ms apart in event time, visitors one after the other.
  let t = Date.UTC(2026, 0, 5);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      t += 1;
      const visitor = `visitor-${i}`;
      bursts.add({ visitor, network: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, site: 'shop', t });
      bots.add({ session_id: `s-${i}`, visitor_id: visitor, site_id: 'shop', event_type: 'click', t, url: '/p', browser: 'Chrome', is_bot: false });
    }
    if ((i + 1) % (n / 5) === 0) points.push(`${(i + 1).toLocaleString('en')} keys: ${(heapMb() - base).toFixed(1)} MB`);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { points, clicksPerS: (3 * n) / seconds, held: bursts.visitors.size + bursts.networks.size, open: bots.openSessions };
}

const small = run(Math.max(5, Math.round(keys / 10)));
const big = run(keys);
console.log(`max keys per detector: ${maxKeys.toLocaleString('en')}`);
console.log(`${(keys / 10).toLocaleString('en')} distinct visitors: ${small.points.join(' · ')}`);
console.log(`${keys.toLocaleString('en')} distinct visitors: ${big.points.join(' · ')}`);
console.log(`held at the end: ${big.held.toLocaleString('en')} burst keys (visitors + networks), ${big.open.toLocaleString('en')} open sessions`);
console.log(`speed (bursts + sessions, one core, GC pauses included): ${Math.round(big.clicksPerS).toLocaleString('en')} clicks/s`);
