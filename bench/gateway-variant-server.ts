/**
 * The real gateway (buildApp, same configuration as bench/gateway's) with Kafka replaced by a
 * producer that acknowledges at once: measured beside the real one, it splits the gateway's cost
 * into "HTTP, validation, enrichment, dedup" and "the Kafka client and broker". Port from GATEWAY_PORT.
 */
import { buildApp } from '../gateway/app.js';
import type { EventProducer } from '../gateway/event-producer.js';

let records = 0;
const producer: EventProducer = {
  async send(r) {
    records += r.length;
  },
  isAvailable: () => true,
  async close() {},
};
const app = await buildApp({ producer });
await app.listen({ host: '127.0.0.1', port: Number(process.env.GATEWAY_PORT ?? 28082) });
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.log(`stub producer took ${records} records`);
    void app.close().then(() => process.exit(0));
  });
}
