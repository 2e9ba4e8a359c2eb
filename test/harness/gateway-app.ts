import { pino } from 'pino';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApp, type BuildOptions } from '../../gateway/app.js';
import type { Config } from '../../contracts/config.js';
import type { EventProducer, OutRecord } from '../../gateway/event-producer.js';
import type { GeoProvider } from '../../gateway/geo.js';

/** In-memory stand-in for Kafka (unit tests only; integration tests use the real broker). */
export class MemoryProducer implements EventProducer {
  records: OutRecord[] = [];
  available = true;
  fail = false;
  /** While set, sends wait until `release()` (a stalled broker). */
  hold = false;
  sends = 0;
  closed = false;
  private waiting: ((failed: boolean) => void)[] = [];

  async send(records: OutRecord[]) {
    this.sends++;
    if (this.hold && (await new Promise<boolean>((resolve) => this.waiting.push(resolve)))) throw new Error('broker down');
    if (this.fail) throw new Error('broker down');
    this.records.push(...records);
  }
  /** Lets held sends go on; with `failHeld` they fail (the broker never took them). */
  release(failHeld = false) {
    this.hold = false;
    for (const w of this.waiting.splice(0)) w(failHeld);
  }
  isAvailable() {
    return this.available;
  }
  async close() {
    this.closed = true;
  }
  on(topic: string) {
    return this.records.filter((r) => r.topic === topic).map((r) => JSON.parse(r.value));
  }
}

export interface Harness {
  app: FastifyInstance;
  kafka: MemoryProducer;
  logs: Record<string, unknown>[];
}

/** buildApp with the in-memory producer and a logger whose lines the test can read. The loop-lag bound is off: inject() has no sockets, so a test that injects many requests in a row would look like a busy loop. */
export async function harness(config: Partial<Config> = {}, geo?: GeoProvider, more: Pick<BuildOptions, 'acceptor'> = {}): Promise<Harness> {
  const kafka = new MemoryProducer();
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const app = await buildApp({ producer: kafka, logger, config: { gatewayRateLimitIp: 0, gatewayRateLimitSite: 0, gatewayMaxLoopLagMs: 0, ...config }, geo, ...more });
  return { app, kafka, logs };
}

export function postEvents(app: FastifyInstance, body: unknown, opts: { query?: string; headers?: Record<string, string> } = {}) {
  const req: InjectOptions = {
    method: 'POST',
    url: `/v1/events${opts.query ?? ''}`,
    headers: { 'content-type': 'application/json', ...opts.headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  };
  return app.inject(req);
}
