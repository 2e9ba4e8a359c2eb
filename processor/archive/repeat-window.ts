/**
 * Which records of one topic-partition repeat an earlier one: a record is a repeat when a record
 * with the same key (site and event id) lies at most `horizon` offsets before it in the same
 * topic-partition. The decision depends only on the records in [offset - horizon, offset), so
 * any consumer that has seen those records decides the same, live or in a replay after a crash
 * (the archive sink holds its commit `horizon` offsets back for that).
 *
 * Memory: one entry per record of the last `horizon` offsets (the key string, which the parsed
 * event holds anyway, and two numbers). Pure: no Node, Kafka or AWS.
 */
export class RepeatWindow {
  /** Latest offset seen per key, for keys seen within the horizon. */
  private readonly latest = new Map<string, number>();
  /** The records seen, oldest first from `head` (forgotten once past the horizon). */
  private keys: string[] = [];
  private offsets: number[] = [];
  private head = 0;

  /** `horizon` 0: nothing is ever a repeat and nothing is held. */
  constructor(readonly horizon: number) {}

  /**
   * Called for every record of the topic-partition, in offset order, offsets increasing: whether
   * the same key was seen at an offset in [offset - horizon, offset).
   */
  see(key: string, offset: number): boolean {
    if (this.horizon <= 0) return false;
    const floor = offset - this.horizon;
    while (this.head < this.offsets.length && this.offsets[this.head] < floor) {
      const k = this.keys[this.head];
      if (this.latest.get(k) === this.offsets[this.head]) this.latest.delete(k);
      this.head++;
    }
    // Drop the forgotten prefix now and then (amortised O(1) per record).
    if (this.head > 1024 && this.head * 2 > this.offsets.length) {
      this.keys = this.keys.slice(this.head);
      this.offsets = this.offsets.slice(this.head);
      this.head = 0;
    }
    const prev = this.latest.get(key);
    this.latest.set(key, offset);
    this.keys.push(key);
    this.offsets.push(offset);
    return prev !== undefined && prev >= floor;
  }

  /** Keys held (for tests and memory figures). */
  get size(): number {
    return this.latest.size;
  }
}
