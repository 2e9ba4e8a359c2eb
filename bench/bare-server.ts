/**
 * The reference for bench/gateway: a bare Fastify route that only parses the same batches
 * (the gateway's own body parser: text read as a string, then JSON.parse) and answers with
 * the event count. No validation, enrichment, dedup or Kafka: what Fastify and JSON cost on
 * this machine, measured in the same run as the gateway. Port from BARE_PORT.
 */
import Fastify from 'fastify';

const port = Number(process.env.BARE_PORT ?? 28081);
const app = Fastify({ logger: false, bodyLimit: 524_288 });
app.removeAllContentTypeParsers();
app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => {
  try {
    done(null, JSON.parse(body as string));
  } catch (err) {
    done(err as Error);
  }
});
app.post('/v1/events', async (req) => {
  const events = (req.body as { events?: unknown[] }).events;
  return { accepted: Array.isArray(events) ? events.length : 0 };
});
app.get('/healthz', async () => ({ status: 'ok' }));
await app.listen({ host: '127.0.0.1', port });
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void app.close().then(() => process.exit(0)));
