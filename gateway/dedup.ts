/**
 * Remembers recently accepted event ids so a retried batch is not produced twice.
 * Bounded in count and in time: ids older than `ttlMs`, or beyond `max` entries, are
 * forgotten (the processor's idempotent writes catch what slips past).
 */
export class RecentIds {
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly max = 200_000,
    private readonly ttlMs = 10 * 60_000,
  ) {}

  has(id: string, now = Date.now()): boolean {
    const at = this.seen.get(id);
    return at !== undefined && now - at < this.ttlMs;
  }

  add(id: string, now = Date.now()): void {
    this.seen.delete(id);
    this.seen.set(id, now);
    // Map iterates in insertion order, so the first entries are the oldest.
    for (const [oldest, at] of this.seen) {
      if (this.seen.size <= this.max && now - at < this.ttlMs) break;
      this.seen.delete(oldest);
    }
  }

  get size(): number {
    return this.seen.size;
  }
}
