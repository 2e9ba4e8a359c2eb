import { describe, expect, it } from 'vitest';
import { onClock } from './freshness-watch-thread.js';

describe('onClock', () => {
  it('moves every point in time of a watch by the shift and leaves the durations', () => {
    const w = onClock(
      {
        sent: new Map([['p-0', 100]]),
        startedAt: new Map([['p-0', 100], ['p-1', 300]]),
        ackedAt: new Map([['p-0', 150]]),
        seen: new Map([['kpis', new Map([['p-0', { at: 900, since: 700 }]])]]),
        cycles: [50, 60],
        roundTrips: [5, 7],
      },
      -40,
    );
    expect(w.sent).toEqual(new Map([['p-0', 60]]));
    expect(w.startedAt).toEqual(new Map([['p-0', 60], ['p-1', 260]]));
    expect(w.ackedAt).toEqual(new Map([['p-0', 110]]));
    expect(w.seen).toEqual(new Map([['kpis', new Map([['p-0', { at: 860, since: 660 }]])]]));
    expect(w.cycles).toEqual([50, 60]);
    expect(w.roundTrips).toEqual([5, 7]);
  });
});
