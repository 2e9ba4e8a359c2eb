/**
 * The keys (site and event id) of the last `horizon` offsets of one topic-partition, each with
 * who counted it: what decides a repeat (the same record twice on Kafka, a send Kafka stored
 * although the gateway answered 503, retried by the client under the same id). The one window
 * behind both users:
 *
 * - the analytics engine (owner: the session that counted the event): a record is a repeat when
 *   its key was counted here by its own session, still open;
 * - the archive sink (owner: the offset, `seenWithin`): a record is a repeat when its key was
 *   seen at an offset in [offset - horizon, offset).
 *
 * Why this is deterministic: a repeat always lands in the same topic-partition (same event type,
 * keyed by visitor), and the decision depends only on the records of the last `horizon` offsets,
 * so any consumer that has read those records again decides the same, live or in a replay after a
 * crash (the engine's open session, and the archive sink, hold their commits back for that). The
 * comparison is on the full key: a distinct event is never dropped. A repeat more than `horizon`
 * offsets after its first copy is counted again.
 *
 * Memory: one entry per counted record of the last `horizon` offsets (the key string, which the
 * parsed event holds anyway, an offset and an owner). Pure: no Node, Kafka or AWS.
 */
export class RecentCounts<S> {
  /** The owner of the latest entry per key, for keys counted within the horizon. */
  private readonly latest = new Map<string, S>();
  /** The entries counted, oldest first from `head` (forgotten once past the horizon). */
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
    // Drop the forgotten prefix now and then (amortised O(1) per record).
    if (this.head > 1024 && this.head * 2 > this.offsets.length) {
      this.keys = this.keys.slice(this.head);
      this.offsets = this.offsets.slice(this.head);
      this.owners = this.owners.slice(this.head);
      this.head = 0;
    }
  }

  /** Called for a record at `offset` (offsets increasing) before it is counted: who counted the same key within the horizon. */
  countedBy(key: string, offset: number): S | undefined {
    if (this.horizon <= 0) return undefined;
    this.forget(offset);
    return this.latest.get(key);
  }

  /** Called once the record at `offset` was counted by `owner` (after `countedBy` for that offset). */
  counted(key: string, offset: number, owner: S): void {
    if (this.horizon <= 0) return;
    this.latest.set(key, owner);
    this.keys.push(key);
    this.offsets.push(offset);
    this.owners.push(owner);
  }

  /**
   * Called for every record of the topic-partition, in offset order, when the owner is the offset
   * itself (the archive): whether the same key was seen at an offset in [offset - horizon, offset).
   * Every record is counted, repeat or not, so a third copy within the horizon of the second is a
   * repeat too.
   */
  seenWithin(this: RecentCounts<number>, key: string, offset: number): boolean {
    const prev = this.countedBy(key, offset);
    this.counted(key, offset, offset);
    return prev !== undefined;
  }

  /** Keys held (memory figures and tests). */
  get size(): number {
    return this.latest.size;
  }
}
