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
interface Entry {
  at: number;
  digest: string;
}

/**
 * An event's identity: the site it was sent for and its id. Two sites may pick the same id (ids
 * are chosen by clients); neither may shadow the other's event. Site ids never contain a NUL.
 */
export const identityOf = (siteId: string | null, eventId: string) => `${siteId ?? ''}\u0000${eventId}`;

export class RecentIds {
  /**
   * Two generations of ids with the time they were accepted. Adding never walks anything: when
   * the current generation is full (half of `max`) or older than the window, it becomes the
   * previous one and the old previous one is dropped whole. (A Map used as a FIFO, deleting
   * from the front, gets slower with every delete: V8 skips the deleted slots on each walk.)
   * An id is remembered for the window, or until `max` newer ids push it out, whichever is first.
   */
  private current = new Map<string, Entry>();
  private previous = new Map<string, Entry>();
  private currentSince = 0;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly generationMax: number;
  constructor(
    private readonly max = 200_000,
    private readonly ttlMs = 10 * 60_000,
  ) {
    this.generationMax = Math.max(1, Math.floor(max / 2));
  }

  has(id: string, now = Date.now()): boolean {
    return this.digest(id, now) !== undefined;
  }

  /** The digest `id` was accepted with ('' when none was given), or undefined when not remembered. */
  digest(id: string, now = Date.now()): string | undefined {
    if (this.ttlMs <= 0) return undefined;
    const e = this.current.get(id) ?? this.previous.get(id);
    return e !== undefined && now - e.at < this.ttlMs ? e.digest : undefined;
  }

  add(id: string, now = Date.now(), digest = ''): void {
    if (this.ttlMs <= 0 || this.max <= 0) return;
    if (this.current.size >= this.generationMax || now - this.currentSince >= this.ttlMs) {
      this.previous = this.current;
      this.current = new Map();
      this.currentSince = now;
    }
    this.current.set(id, { at: now, digest });
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
    return this.current.size + this.previous.size;
  }

  get pendingSize(): number {
    return this.inFlight.size;
  }
}
