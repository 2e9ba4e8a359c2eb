/**
 * What decides a repeat in the analytics engine (the same record twice on Kafka): the site and
 * event id of every event counted in the last `horizon` offsets of its topic-partition, with the
 * session that counted it. A record is a repeat when its site and event id were counted there by
 * its own session, still open.
 *
 * Why this is enough, and deterministic: a repeat always lands in the same topic-partition
 * (same event type, keyed by visitor), and the first copy lies in the repeat's open session,
 * which holds the commit at or below its first offset, so a replay after a crash reads the first
 * copy again and finds it here exactly when the live run did (the window is counted in offsets).
 * The comparison is on the full site and event id: a distinct event is never dropped. A repeat
 * more than `horizon` offsets after its first copy is counted again, as one after its session
 * closed. Memory: one entry per counted event of the last `horizon` offsets per topic, instead
 * of one per event of every open session (a session stays open for SESSION_GAP_S after its last
 * event). Pure: no Node, Kafka or AWS.
 */
export class RecentCounts<S> {
  private readonly latest = new Map<string, S>();
  private keys: string[] = [];
  private offsets: number[] = [];
  private owners: S[] = [];
  private head = 0;

  /** `horizon` 0: nothing is remembered and nothing is a repeat. */
  constructor(readonly horizon: number) {}

  private forget(offset: number): void {
    const floor = offset - this.horizon;
    while (this.head < this.offsets.length && this.offsets[this.head] < floor) {
      const k = this.keys[this.head];
      if (this.latest.get(k) === this.owners[this.head]) this.latest.delete(k);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.offsets.length) {
      this.keys = this.keys.slice(this.head);
      this.offsets = this.offsets.slice(this.head);
      this.owners = this.owners.slice(this.head);
      this.head = 0;
    }
  }

  /** Called for an event at `offset` (offsets increasing) before it is counted: who counted the same key within the horizon. */
  countedBy(key: string, offset: number): S | undefined {
    if (this.horizon <= 0) return undefined;
    this.forget(offset);
    return this.latest.get(key);
  }

  /** Called once the event at `offset` was counted by `owner`. */
  counted(key: string, offset: number, owner: S): void {
    if (this.horizon <= 0) return;
    this.latest.set(key, owner);
    this.keys.push(key);
    this.offsets.push(offset);
    this.owners.push(owner);
  }

  /** Keys held (memory figures and tests). */
  get size(): number {
    return this.latest.size;
  }
}
