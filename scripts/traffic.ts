/** `npm run traffic -- [rate] [endpoint]`: synthetic shoppers against a running gateway, until Ctrl-C. */
import { runTraffic } from './traffic-generator.js';

const rate = Number(process.argv[2] ?? 50);
const endpoint = process.argv[3] ?? 'http://127.0.0.1:8080/v1/events';
const abort = new AbortController();
process.on('SIGINT', () => abort.abort());
let ok = 0;
let bad = 0;
const t = setInterval(() => console.log(`${ok} events accepted, ${bad} refused`), 5000);
await runTraffic({ endpoint, rate, site: process.env.SITE, signal: abort.signal, onBatch: (s, n) => (s < 300 ? (ok += n) : (bad += n)) });
clearInterval(t);
console.log(`done: ${ok} accepted, ${bad} refused`);
