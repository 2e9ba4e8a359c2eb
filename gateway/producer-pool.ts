import type { OutRecord } from './event-producer.js';
import type { KafkaDriver, ProducerSession } from './kafka-driver.js';

/**
 * `n` producer sessions seen as one, so that the group commit (coalescing-producer.ts) can have
 * up to `n` sends in flight. Why several producers and not one with several requests in flight:
 * @platformatic/kafka sets maxInflights to 1 on an idempotent producer's connections (its retries
 * keep sequence numbers in order only that way), so one producer carries one produce request per
 * broker at a time, and a group that formed during a send waited for that whole round trip before
 * its own began (a slow acknowledgement, e.g. a broker GC pause, then delayed two groups). Each
 * producer here has its own producer id and sequence numbers: idempotence and acks=all hold per
 * send as before; a request's records always go in one send, so their order holds too.
 *
 * A send goes to a session with nothing in flight (the first one when all are idle, so light
 * traffic uses one connection), else to the one with the fewest sends in flight.
 */
export function pooledSession(sessions: ProducerSession[]): ProducerSession {
  if (sessions.length === 1) return sessions[0];
  const inFlight = sessions.map(() => 0);
  const pick = () => {
    let best = 0;
    for (let i = 1; i < sessions.length && inFlight[best] > 0; i++) if (inFlight[i] < inFlight[best]) best = i;
    return best;
  };
  return {
    async connect() {
      await Promise.all(sessions.map((s) => s.connect()));
    },
    async send(records: OutRecord[]) {
      const i = pick();
      inFlight[i]++;
      try {
        await sessions[i].send(records);
      } finally {
        inFlight[i]--;
      }
    },
    async close() {
      await Promise.all(sessions.map((s) => s.close()));
    },
  };
}

/** `driver` whose every session is `n` of its producers (pooledSession). */
export function pooledDriver(driver: KafkaDriver, n: number): KafkaDriver {
  return {
    create: () => pooledSession(Array.from({ length: Math.max(1, n) }, () => driver.create())),
    probe: () => driver.probe(),
  };
}
