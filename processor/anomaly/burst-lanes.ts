/**
 * The click-burst detectors fed in one order whatever the order partitions are read in. The
 * detectors' population statistics (every key's counts over the last minutes) and the per-network
 * counts mix all partitions, and the consumer reads partitions unevenly (one catching up minutes
 * behind another, fetches of different sizes): fed in reading order, a network's clicks from a
 * partition read behind were missing from its span (or, more than a span behind, never counted)
 * and the population differed, so a replay raised other alerts.
 *
 * Each partition is a lane. A click's place in the merged order is (its lane's clock at the click,
 * lane, its rank in the lane), where a lane's clock is the running maximum of its event times: a
 * lane's clicks come in that order, so the merged order is a function of each lane's own sequence
 * only. A click is handed to the detectors once no lane can still deliver one before it: when every
 * lane's clock has passed it. A lane that delivered nothing for `idleMs` (wall clock: a partition
 * read to its end, or no longer read) stops holding the others back until it delivers again; only
 * then, or past `maxBuffered` held clicks, can the order depend on the reading.
 */
import { ClickBurstDetectors, type BurstClick, type BurstOptions, type ClickBurst } from './burst.js';

interface Held {
  c: BurstClick;
  /** The lane's clock when the click came. */
  clock: number;
  rank: number;
  /** Its offset in the partition, when the caller has one (the commit must not pass a held click). */
  offset?: string;
}

interface Lane {
  id: number;
  clock: number;
  /** Rank of the lane's next click. */
  next: number;
  /** Wall clock of its last click. */
  seenAt: number;
  held: Held[];
  head: number;
}

/** Clicks held across lanes before the oldest are released whatever the lanes' clocks. */
const MAX_BUFFERED = 200_000;

export class LanedClickBursts {
  readonly detectors: ClickBurstDetectors;
  private readonly lanes = new Map<number, Lane>();
  /** The lanes in the Map's order: walked at every click, where a Map iterator was an object per walk. */
  private readonly laneList: Lane[] = [];
  private buffered = 0;

  constructor(
    visitorOptions: Partial<BurstOptions>,
    networkOptions: Partial<BurstOptions>,
    private readonly idleMs: number,
    private readonly maxBuffered = MAX_BUFFERED,
  ) {
    this.detectors = new ClickBurstDetectors(visitorOptions, networkOptions);
  }

  /** Clicks held, waiting for a lane behind. */
  get pending(): number {
    return this.buffered;
  }

  /**
   * Called when the partition is assigned, before its first click: until it delivers one (or is
   * idle for idleMs), no click of another lane is judged, so a partition whose first fetch comes
   * late is not overtaken.
   */
  open(laneId: number, now: number) {
    this.lane(laneId, now);
  }

  private lane(laneId: number, now: number): Lane {
    let lane = this.lanes.get(laneId);
    if (!lane) {
      this.lanes.set(laneId, (lane = { id: laneId, clock: -Infinity, next: 0, seenAt: now, held: [], head: 0 }));
      this.laneList.push(lane);
    }
    return lane;
  }

  /** Called for each click, in offset order within its lane (partition); returns the bursts of the clicks it releases. */
  add(c: BurstClick, laneId: number, now: number, offset?: string): ClickBurst[] {
    const lane = this.lane(laneId, now);
    lane.clock = Math.max(lane.clock, c.t);
    lane.seenAt = now;
    lane.held.push({ c, clock: lane.clock, rank: lane.next++, offset });
    this.buffered++;
    return this.release(now);
  }

  /** The offset of the lane's first click not yet judged (undefined: none held). */
  firstHeld(laneId: number): string | undefined {
    const l = this.lanes.get(laneId);
    return l && l.head < l.held.length ? l.held[l.head].offset : undefined;
  }

  /** Called periodically (and after each click): hands the detectors every click no lane can still precede. */
  release(now: number): ClickBurst[] {
    const out: ClickBurst[] = [];
    for (;;) {
      // The lane whose first held click comes first in the merged order.
      let first: Lane | null = null;
      for (let i = 0; i < this.laneList.length; i++) {
        const l = this.laneList[i];
        if (l.head < l.held.length && (first === null || before(l.held[l.head], l, first.held[first.head], first))) first = l;
      }
      if (first === null) break;
      const h = first.held[first.head];
      if (this.buffered <= this.maxBuffered && this.blocked(h, first, now)) break;
      first.head++;
      this.buffered--;
      if (first.head === first.held.length) {
        // Emptied in place (most clicks are released at once): a new array per click otherwise.
        first.held.length = 0;
        first.head = 0;
      } else if (first.head > 1024 && first.head * 2 > first.held.length) {
        first.held = first.held.slice(first.head);
        first.head = 0;
      }
      out.push(...this.detectors.add(h.c));
    }
    return out;
  }

  /** Whether a lane that is not idle can still deliver a click before `h` (of lane `of`). */
  private blocked(h: Held, of: Lane, now: number): boolean {
    for (let i = 0; i < this.laneList.length; i++) {
      const l = this.laneList[i];
      if (l === of || l.head < l.held.length || now - l.seenAt >= this.idleMs) continue;
      // Its next click comes at (its clock or later, l.id, l.next).
      if (l.clock < h.clock || (l.clock === h.clock && l.id < of.id)) return true;
    }
    return false;
  }

  /** Called when the partition is no longer this instance's: its held clicks are judged now, it holds nothing back. */
  drop(laneId: number, now: number): ClickBurst[] {
    const lane = this.lanes.get(laneId);
    if (!lane) return [];
    lane.seenAt = -Infinity;
    const out = this.release(now);
    if (lane.head === lane.held.length) {
      this.lanes.delete(laneId);
      this.laneList.splice(this.laneList.indexOf(lane), 1);
    }
    return out;
  }
}

function before(a: Held, la: Lane, b: Held, lb: Lane): boolean {
  if (a.clock !== b.clock) return a.clock < b.clock;
  if (la.id !== lb.id) return la.id < lb.id;
  return a.rank < b.rank;
}
