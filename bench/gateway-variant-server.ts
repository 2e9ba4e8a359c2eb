/**
 * The real gateway (buildApp, configured from the environment like gateway/server.ts) with its
 * producer swapped, for comparisons in the same run as the real one. Port from GATEWAY_PORT.
 *
 *   VARIANT=stub         Kafka replaced by a producer that acknowledges at once: what HTTP,
 *                        validation, enrichment, dedup and serialisation cost without any Kafka.
 *   VARIANT=uncoalesced  the kafkajs producer without the coalescing in front of it (one Kafka
 *                        send per request, as before gateway/coalescing-producer.ts).
 */
import { pino } from 'pino';
import { loadConfig } from '../common/config.js';
import { buildApp } from '../gateway/app.js';
import type { EventProducer } from '../gateway/event-producer.js';
import { kafkaProducer } from '../gateway/kafka-producer.js';

const variant = process.env.VARIANT ?? 'stub';
let records = 0;
const stub: EventProducer = {
  async send(r) {
    records += r.length;
  },
  isAvailable: () => true,
  async close() {},
};
const cfg = loadConfig();
const logger = pino({ level: cfg.logLevel, base: { service: `gateway-${variant}` } });
let producer: EventProducer;
if (variant === 'stub') producer = stub;
else if (variant === 'uncoalesced') producer = kafkaProducer(cfg, logger);
else throw new Error(`VARIANT must be stub or uncoalesced, got ${variant}`);
const app = await buildApp({ producer, logger });
await app.listen({ host: '127.0.0.1', port: cfg.gatewayPort, backlog: cfg.gatewayListenBacklog });
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (variant === 'stub') console.log(`stub producer took ${records} records`);
    void app.close().then(() => process.exit(0));
  });
}
