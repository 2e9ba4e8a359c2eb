import fc from 'fast-check';
import { expect, test } from 'vitest';
import { InFlightIds } from './in-flight-ids.js';

test('InFlightIds: what a Map by identity would hold, through adds, take-overs, removes and growth, with many identities sharing a home slot', () => {
  // lo values from a small set: home slots collide all the time, so probes run long and deletion shifts entries.
  const id = fc.tuple(fc.integer({ min: -3, max: 3 }), fc.constantFrom(0, 1, 16, 17, 32, -16, 0x7fffffff, -0x80000000));
  const op = fc.oneof(
    fc.record({ kind: fc.constant('add' as const), id, send: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ kind: fc.constant('remove' as const), id, send: fc.integer({ min: 0, max: 5 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const t = new InFlightIds(16);
      const outcomes = Array.from({ length: 6 }, () => Promise.resolve());
      const sends = outcomes.map((o) => t.open(o));
      const model = new Map<string, number>();
      for (const o of ops) {
        const [hi, lo] = o.id;
        const key = `${hi}/${lo}`;
        if (o.kind === 'add') {
          t.add(hi, lo, sends[o.send]);
          model.set(key, o.send);
        } else {
          t.remove(hi, lo, sends[o.send]);
          if (model.get(key) === o.send) model.delete(key);
        }
        expect(t.size).toBe(model.size);
      }
      for (let hi = -3; hi <= 3; hi++) {
        for (const lo of [0, 1, 16, 17, 32, -16, 0x7fffffff, -0x80000000]) {
          const s = model.get(`${hi}/${lo}`);
          expect(t.get(hi, lo)).toBe(s === undefined ? undefined : outcomes[s]);
        }
      }
    }),
    { numRuns: 300 },
  );
});

test('InFlightIds: a closed send answers no more, and numbers of sends stay distinct while open', () => {
  const t = new InFlightIds();
  const a = Promise.resolve();
  const b = Promise.resolve();
  const sa = t.open(a);
  const sb = t.open(b);
  expect(sa).not.toBe(sb);
  t.add(1, 2, sa);
  t.add(3, 4, sb);
  expect(t.get(1, 2)).toBe(a);
  // Taken over by a later send: the earlier one's remove leaves it.
  t.add(1, 2, sb);
  t.remove(1, 2, sa);
  expect(t.get(1, 2)).toBe(b);
  t.close(sa);
  expect(t.get(3, 4)).toBe(b);
  t.remove(1, 2, sb);
  t.remove(3, 4, sb);
  t.close(sb);
  expect(t.size).toBe(0);
  expect(t.get(1, 2)).toBeUndefined();
  // Many identities at once: the table grows and keeps them all.
  const sc = t.open(a);
  for (let i = 0; i < 5000; i++) t.add(i, i * 7919, sc);
  expect(t.size).toBe(5000);
  for (let i = 0; i < 5000; i++) expect(t.get(i, i * 7919)).toBe(a);
  for (let i = 0; i < 5000; i += 2) t.remove(i, i * 7919, sc);
  for (let i = 0; i < 5000; i++) expect(t.get(i, i * 7919)).toBe(i % 2 ? a : undefined);
});
