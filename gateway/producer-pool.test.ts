import { describe, expect, test } from 'vitest';
import type { ProducerSession } from './kafka-driver.js';
import { pooledDriver, pooledSession } from './producer-pool.js';

/** A session whose sends wait until the test settles them. */
function fakeSession(name: string, log: string[]) {
  const sends: (() => void)[] = [];
  const session: ProducerSession = {
    async connect() {
      log.push(`connect ${name}`);
    },
    send(records) {
      log.push(`${name}: ${records.map((r) => r.key).join(',')}`);
      return new Promise<void>((resolve) => sends.push(resolve));
    },
    async close() {
      log.push(`close ${name}`);
    },
  };
  return { session, sends };
}

const rec = (key: string) => ({ topic: 't', key, value: 'v' });
const tick = () => new Promise((r) => setImmediate(r));

describe('pooledSession', () => {
  test('a send goes to an idle producer, the first one while all are idle; with none idle, to the one with the fewest in flight', async () => {
    const log: string[] = [];
    const [x, y] = [fakeSession('x', log), fakeSession('y', log)];
    const pool = pooledSession([x.session, y.session]);
    await pool.connect();
    const a = pool.send([rec('a')]);
    const b = pool.send([rec('b')]);
    x.sends.shift()!();
    await a;
    const c = pool.send([rec('c')]);
    const d = pool.send([rec('d')]);
    expect(log).toEqual(['connect x', 'connect y', 'x: a', 'y: b', 'x: c', 'x: d']);
    y.sends.shift()!();
    await b;
    const e = pool.send([rec('e')]);
    expect(log.at(-1)).toBe('y: e');
    for (const s of [...x.sends, ...y.sends]) s();
    await Promise.all([c, d, e]);
    await pool.close();
    expect(log.slice(-2)).toEqual(['close x', 'close y']);
  });

  test('pooledDriver makes each session of n fresh producers (n producer ids), 1 being the driver\'s own', async () => {
    let created = 0;
    const log: string[] = [];
    const driver = {
      create: () => fakeSession(String(++created), log).session,
      probe: async () => undefined,
    };
    await pooledDriver(driver, 3).create().connect();
    expect(log).toEqual(['connect 1', 'connect 2', 'connect 3']);
    expect(pooledDriver(driver, 1).create()).toBeDefined();
    expect(created).toBe(4);
    await tick();
  });
});
