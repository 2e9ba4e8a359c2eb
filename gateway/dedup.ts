/**
 * Remembers recently accepted event identities (site and event id, see `identityOf`) with the
 * digest of what was accepted, so a retried batch is not produced twice and the same id with
 * other content is told apart (a conflict, not a duplicate); and the identities whose send to
 * Kafka is still under way, so a retry racing its original waits for the original's outcome
 * instead of producing a second copy.
 *
 * Bounded in count and in time: ids older than `ttlMs`, or beyond `max` entries, are
 * forgotten (the processor's idempotent writes, keyed by event id, catch what slips past,
 * e.g. a retry after the window or one that reaches another gateway instance).
 */
/**
 * An event's identity: the site it was sent for and its id. Two sites may pick the same id (ids
 * are chosen by clients); neither may shadow the other's event. Site ids never contain a NUL.
 */
export const identityOf = (siteId: string | null, eventId: string) => `${siteId ?? ''}\u0000${eventId}`;

/** A 32-bit fingerprint of an id, never 0 (0 marks an empty slot of a generation's filter). */
function fingerprint(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h | 1;
}

/**
 * One generation: its ids with their slots, a compact filter of their fingerprints (open
 * addressing in one typed array), and per slot the time and digest it was accepted with. Almost
 * every id looked up is new; the filter answers "not here" from one contiguous array, where a
 * miss in a Map of 100,000 strings walks scattered entries (profile of 1 Dec 2026: the two Map
 * misses per event were 11-15 % of the gateway's own work). A fingerprint found sends the lookup
 * on to the Map, so answers stay exact. The times sit in a typed array and the Map holds slot
 * numbers: an id remembered costs its key string and its digest, not also an entry object and a
 * boxed number (every remembered id outlives the young generation, so each object of it was
 * copied by a scavenge and marked by every full GC: the half-load tail).
 */
class Generation {
  readonly ids = new Map<string, number>();
  readonly digests: string[] = [];
  /** Fingerprints inserted (at most `limit`, so the filter never fills up). */
  filled = 0;
  private readonly mask: number;
  constructor(
    private readonly filter: Int32Array,
    /** Acceptance time of each slot (slot = insertion order). */
    readonly at: Float64Array,
    readonly since: number,
  ) {
    this.filter.fill(0);
    this.mask = filter.length - 1;
  }

  /** The id's slot, or -1. */
  get(id: string, fp: number): number {
    const f = this.filter;
    for (let i = fp & this.mask; ; i = (i + 1) & this.mask) {
      const v = f[i];
      if (v === 0) return -1;
      if (v === fp) return this.ids.get(id) ?? -1;
    }
  }

  set(id: string, fp: number, at: number, digest: string): void {
    const f = this.filter;
    let i = fp & this.mask;
    while (f[i] !== 0 && f[i] !== fp) i = (i + 1) & this.mask;
    if (f[i] === 0) {
      f[i] = fp;
      this.filled++;
    }
    let slot = this.ids.get(id);
    if (slot === undefined) {
      slot = this.ids.size;
      this.ids.set(id, slot);
    }
    this.at[slot] = at;
    this.digests[slot] = digest;
  }

  /** The filter's and times' arrays, for the generation that replaces this one. */
  recycle(): [Int32Array, Float64Array] {
    return [this.filter, this.at];
  }
}

export class RecentIds {
  /**
   * Two generations of ids with the time they were accepted. Adding never walks anything: when
   * the current generation is full (half of `max`) or older than the window, it becomes the
   * previous one and the old previous one is dropped whole. (A Map used as a FIFO, deleting
   * from the front, gets slower with every delete: V8 skips the deleted slots on each walk.)
   * An id is remembered for the window, or until `max` newer ids push it out, whichever is first.
   */
  private current: Generation;
  private previous: Generation;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly generationMax: number;
  constructor(
    private readonly max = 200_000,
    private readonly ttlMs = 10 * 60_000,
  ) {
    this.generationMax = Math.max(1, Math.floor(max / 2));
    // At most half full: short probe runs.
    let slots = 16;
    while (slots < this.generationMax * 2) slots *= 2;
    this.current = new Generation(new Int32Array(slots), new Float64Array(this.generationMax), 0);
    this.previous = new Generation(new Int32Array(slots), new Float64Array(this.generationMax), 0);
  }

  has(id: string, now = Date.now()): boolean {
    return this.digest(id, now) !== undefined;
  }

  /** The digest `id` was accepted with ('' when none was given), or undefined when not remembered. */
  digest(id: string, now = Date.now()): string | undefined {
    if (this.ttlMs <= 0) return undefined;
    const fp = fingerprint(id);
    let g = this.current;
    let slot = g.get(id, fp);
    if (slot < 0) {
      g = this.previous;
      slot = g.get(id, fp);
      if (slot < 0) return undefined;
    }
    return now - g.at[slot] < this.ttlMs ? g.digests[slot] : undefined;
  }

  add(id: string, now = Date.now(), digest = ''): void {
    if (this.ttlMs <= 0 || this.max <= 0) return;
    if (this.current.ids.size >= this.generationMax || this.current.filled >= this.generationMax || now - this.current.since >= this.ttlMs) {
      const [filter, at] = this.previous.recycle();
      this.previous = this.current;
      this.current = new Generation(filter, at, now);
    }
    this.current.set(id, fingerprint(id), now, digest);
  }

  /** The outcome of a send that carries `id` right now, if there is one. */
  pending(id: string): Promise<void> | undefined {
    return this.inFlight.get(id);
  }

  /**
   * Marks `ids` as being sent; call the returned function with the outcome once Kafka has
   * answered: acknowledged ids are remembered, and waiters are released either way.
   */
  begin(ids: readonly string[], digests?: readonly string[]): (acked: boolean, now?: number) => void {
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    for (const id of ids) this.inFlight.set(id, done);
    return (acked, now = Date.now()) => {
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (acked) this.add(id, now, digests?.[i]);
        if (this.inFlight.get(id) === done) this.inFlight.delete(id);
      }
      release();
    };
  }

  get size(): number {
    return this.current.ids.size + this.previous.ids.size;
  }

  get pendingSize(): number {
    return this.inFlight.size;
  }
}
