import { describe, expect, test } from 'vitest';
import { partitionZeroLeadership } from './partition-zero.js';

const part = (partition: number) => ({ topic: 'page_views', partition, committed: null, checkpoint: undefined });

describe('partitionZeroLeadership', () => {
  test.each([
    { name: 'partition 0 assigned: gained once', steps: [['assign', [1, 0]], ['assign', [0]]], gained: 1, lost: 0, leading: true },
    { name: 'other partitions only: never leads', steps: [['assign', [1, 2]], ['revoke', 1]], gained: 0, lost: 0, leading: false },
    { name: 'partition 0 revoked (once per topic): lost each time', steps: [['assign', [0]], ['revoke', 0], ['revoke', 0]], gained: 1, lost: 2, leading: false },
    { name: 'regained after a rebalance', steps: [['assign', [0]], ['revoke', 0], ['assign', [0, 3]]], gained: 2, lost: 1, leading: true },
    { name: 'another partition revoked: still leading', steps: [['assign', [0, 1]], ['revoke', 1]], gained: 1, lost: 0, leading: true },
    { name: 'end: not leading, lost not called', steps: [['assign', [0]], ['end', 0]], gained: 1, lost: 0, leading: false },
  ] as const)('$name', ({ steps, gained, lost, leading }) => {
    const seen = { gained: 0, lost: 0 };
    const lead = partitionZeroLeadership({ gained: () => seen.gained++, lost: () => seen.lost++ });
    for (const [op, arg] of steps) {
      if (op === 'assign') void lead.sink.assign((arg as readonly number[]).map(part));
      else if (op === 'revoke') lead.sink.revoke('page_views', arg as number);
      else lead.end();
    }
    expect(seen).toEqual({ gained, lost });
    expect(lead.leading).toBe(leading);
    expect(lead.sink.committableOffset('page_views', 0)).toBeUndefined();
  });
});
