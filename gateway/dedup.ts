/**
 * Remembers recently accepted event ids so a retried batch is not produced twice, and the
 * ids whose send to Kafka is still under way, so a retry racing its original waits for the
 * original's outcome instead of producing a second copy.
 *
 * Bounded in count and in time: ids older than `ttlMs`, or beyond `max` entries, are
 * forgotten (the processor's idempotent writes, keyed by event id, catch what slips past,
 * e.g. a retry after the window or one that reaches another gateway instance).
 */
export class RecentIds {
  private readonly seen = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<void>>();
  constructor(
    private readonly max = 200_000,
    private readonly ttlMs = 10 * 60_000,
  ) {}

  has(id: string, now = Date.now()): boolean {
    if (this.ttlMs <= 0) return false;
    const at = this.seen.get(id);
    return at !== undefined && now - at < this.ttlMs;
  }

  add(id: string, now = Date.now()): void {
    if (this.ttlMs <= 0 || this.max <= 0) return;
    this.seen.delete(id);
    this.seen.set(id, now);
    // Map iterates in insertion order, so the first entries are the oldest added.
    for (const [oldest, at] of this.seen) {
      if (this.seen.size <= this.max && now - at < this.ttlMs) break;
      this.seen.delete(oldest);
    }
  }

  /** The outcome of a send that carries `id` right now, if there is one. */
  pending(id: string): Promise<void> | undefined {
    return this.inFlight.get(id);
  }

  /**
   * Marks `ids` as being sent; call the returned function with the outcome once Kafka has
   * answered: acknowledged ids are remembered, and waiters are released either way.
   */
  begin(ids: readonly string[]): (acked: boolean, now?: number) => void {
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    for (const id of ids) this.inFlight.set(id, done);
    return (acked, now = Date.now()) => {
      for (const id of ids) {
        if (acked) this.add(id, now);
        if (this.inFlight.get(id) === done) this.inFlight.delete(id);
      }
      release();
    };
  }

  get size(): number {
    return this.seen.size;
  }

  get pendingSize(): number {
    return this.inFlight.size;
  }
}
