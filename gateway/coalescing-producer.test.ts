import { describe, expect, test } from 'vitest';
import { coalescingProducer } from './coalescing-producer.js';
import type { EventProducer, OutRecord } from './event-producer.js';

/** A producer whose sends wait until the test settles them, recording what each carried. */
function fakeInner() {
  const sends: { records: OutRecord[]; settle: (err?: Error) => void }[] = [];
  let closed = 0;
  const inner: EventProducer = {
    send(records) {
      return new Promise<void>((resolve, reject) => {
        sends.push({ records, settle: (err) => (err ? reject(err) : resolve()) });
      });
    },
    isAvailable: () => true,
    async close() {
      closed++;
    },
  };
  return { inner, sends, closedCount: () => closed };
}

const rec = (key: string, value = 'v'): OutRecord => ({ topic: 't', key, value });
const tick = () => new Promise((r) => setImmediate(r));
const state = (p: Promise<void>) => {
  const s = { v: 'pending' as 'pending' | 'ok' | 'failed' };
  p.then(
    () => (s.v = 'ok'),
    () => (s.v = 'failed'),
  );
  return s;
};

describe('coalescingProducer (group commit in front of Kafka)', () => {
  test('an idle producer sends a request at once, alone', async () => {
    const f = fakeInner();
    const p = coalescingProducer(f.inner);
    const a = state(p.send([rec('a1'), rec('a2')]));
    expect(f.sends).toHaveLength(1);
    expect(f.sends[0].records.map((r) => r.key)).toEqual(['a1', 'a2']);
    f.sends[0].settle();
    await tick();
    expect(a.v).toBe('ok');
  });

  test('requests arriving during a send go together in the next one, in order, each resolved only by its own send', async () => {
    const f = fakeInner();
    const p = coalescingProducer(f.inner);
    const a = state(p.send([rec('a')]));
    const b = state(p.send([rec('b1'), rec('b2')]));
    const c = state(p.send([rec('c')]));
    expect(f.sends).toHaveLength(1);
    f.sends[0].settle();
    await tick();
    expect(a.v).toBe('ok');
    expect(b.v).toBe('pending');
    expect(f.sends).toHaveLength(2);
    expect(f.sends[1].records.map((r) => r.key)).toEqual(['b1', 'b2', 'c']);
    f.sends[1].settle();
    await tick();
    expect([b.v, c.v]).toEqual(['ok', 'ok']);
  });

  test('maxSends 2: a request arriving during a send goes at once in a second send; later ones group behind them; each is resolved only by its own send', async () => {
    const f = fakeInner();
    const p = coalescingProducer(f.inner, { maxSends: 2 });
    const a = state(p.send([rec('a')]));
    const b = state(p.send([rec('b')]));
    expect(f.sends.map((s) => s.records.map((r) => r.key))).toEqual([['a'], ['b']]);
    const c = state(p.send([rec('c')]));
    const d = state(p.send([rec('d')]));
    expect(f.sends).toHaveLength(2);
    // The second send is acknowledged first: only its request is answered, and the waiting ones go together.
    f.sends[1].settle();
    await tick();
    expect([a.v, b.v, c.v, d.v]).toEqual(['pending', 'ok', 'pending', 'pending']);
    expect(f.sends).toHaveLength(3);
    expect(f.sends[2].records.map((r) => r.key)).toEqual(['c', 'd']);
    f.sends[2].settle(new Error('broker gone'));
    await tick();
    expect([a.v, c.v, d.v]).toEqual(['pending', 'failed', 'failed']);
    f.sends[0].settle();
    await tick();
    expect(a.v).toBe('ok');
  });

  test('a failed send fails every request it carried, and the next requests still go', async () => {
    const f = fakeInner();
    const p = coalescingProducer(f.inner);
    const a = state(p.send([rec('a')]));
    const b = state(p.send([rec('b')]));
    const c = state(p.send([rec('c')]));
    f.sends[0].settle();
    await tick();
    f.sends[1].settle(new Error('broker gone'));
    await tick();
    expect([a.v, b.v, c.v]).toEqual(['ok', 'failed', 'failed']);
    const d = state(p.send([rec('d')]));
    expect(f.sends).toHaveLength(3);
    f.sends[2].settle();
    await tick();
    expect(d.v).toBe('ok');
  });

  test('a send that throws instead of rejecting fails its requests too', async () => {
    const inner: EventProducer = {
      send() {
        throw new Error('closed');
      },
      isAvailable: () => false,
      close: async () => {},
    };
    await expect(coalescingProducer(inner).send([rec('a')])).rejects.toThrow('closed');
  });

  test('one send carries at most maxBytes (keys + values); a larger request goes alone', async () => {
    const f = fakeInner();
    const p = coalescingProducer(f.inner, { maxBytes: 10 });
    const all = [p.send([rec('a')]), p.send([rec('b', 'xxxx')]), p.send([rec('c', 'yyyy')]), p.send([rec('d', 'z'.repeat(50))]), p.send([rec('e')])];
    // in flight: a; waiting: b (5), c (5), d (51), e (2)
    f.sends[0].settle();
    await tick();
    expect(f.sends[1].records.map((r) => r.key)).toEqual(['b', 'c']);
    f.sends[1].settle();
    await tick();
    expect(f.sends[2].records.map((r) => r.key)).toEqual(['d']);
    f.sends[2].settle();
    await tick();
    expect(f.sends[3].records.map((r) => r.key)).toEqual(['e']);
    f.sends[3].settle();
    await Promise.all(all);
  });

  test('availability and close are the inner producer’s', async () => {
    const f = fakeInner();
    const p = coalescingProducer(f.inner);
    expect(p.isAvailable()).toBe(true);
    await p.close();
    expect(f.closedCount()).toBe(1);
  });

  test('linger (GATEWAY_KAFKA_LINGER_MS): only under load, the next send waits and carries what came meanwhile; an idle producer never waits', async () => {
    const f = fakeInner();
    const p = coalescingProducer(f.inner, { lingerMs: 30 });
    const a = state(p.send([rec('a')]));
    expect(f.sends).toHaveLength(1); // idle: at once
    f.sends[0].settle();
    await tick();
    expect(a.v).toBe('ok');
    // A send that carried one request is no sign of load: the next one goes at once too.
    const b = state(p.send([rec('b')]));
    expect(f.sends).toHaveLength(2);
    const c = state(p.send([rec('c')]));
    const d = state(p.send([rec('d')]));
    f.sends[1].settle();
    await tick();
    expect(b.v).toBe('ok');
    expect(f.sends).toHaveLength(3); // c and d queued during b's send: sent together, no linger yet
    expect(f.sends[2].records.map((r) => r.key)).toEqual(['c', 'd']);
    const e = state(p.send([rec('e')]));
    f.sends[2].settle();
    await tick();
    expect([c.v, d.v]).toEqual(['ok', 'ok']);
    // The last send carried two requests (load): e waits for the linger, and f joins it.
    expect(f.sends).toHaveLength(3);
    const g = state(p.send([rec('f')]));
    await new Promise((r) => setTimeout(r, 60));
    expect(f.sends).toHaveLength(4);
    expect(f.sends[3].records.map((r) => r.key)).toEqual(['e', 'f']);
    f.sends[3].settle();
    await tick();
    expect([e.v, g.v]).toEqual(['ok', 'ok']);
  });
});
