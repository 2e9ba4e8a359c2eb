/**
 * The identities (64-bit hash lanes, see dedup.ts) of events whose send to Kafka is under way,
 * each with the outcome of that send: an open-addressing table (linear probing, at most half
 * full, grown when needed) in typed arrays, holding per slot the identity and the number of the
 * send that carries it; the sends' outcomes sit in a Map by that number, one entry per request
 * rather than per event. A Map by a 53-bit number per event (set, look-up and delete of every
 * event, each key a heap number) was 14 % of ingest in a profile of 2 Dec 2026.
 */
export class InFlightIds {
  /** Per slot the identity's two lanes (lo, hi). */
  private keys: Int32Array;
  /** Per slot the number of the send carrying it, 0 for an empty slot. */
  private owner: Int32Array;
  private mask: number;
  private count = 0;
  private readonly sends = new Map<number, Promise<void>>();
  private lastSend = 0;

  constructor(slots = 1024) {
    let n = 16;
    while (n < slots) n *= 2;
    this.keys = new Int32Array(2 * n);
    this.owner = new Int32Array(n);
    this.mask = n - 1;
  }

  /** Identities in flight. */
  get size(): number {
    return this.count;
  }

  /** A number for a new send, with its outcome; positive and a small integer (it wraps long before 2^30). */
  open(outcome: Promise<void>): number {
    this.lastSend = this.lastSend >= 0x3fff_ffff ? 1 : this.lastSend + 1;
    this.sends.set(this.lastSend, outcome);
    return this.lastSend;
  }

  /** Forgets send `send`'s outcome (after `remove` of each of its identities). */
  close(send: number): void {
    this.sends.delete(send);
  }

  private slotOf(hi: number, lo: number): number {
    const { keys, owner, mask } = this;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      if (owner[i] === 0) return -1;
      if (keys[2 * i] === lo && keys[2 * i + 1] === hi) return i;
    }
  }

  /** The outcome of the send carrying (hi, lo), if one does. */
  get(hi: number, lo: number): Promise<void> | undefined {
    if (this.count === 0) return undefined;
    const slot = this.slotOf(hi, lo);
    return slot < 0 ? undefined : this.sends.get(this.owner[slot]);
  }

  /** (hi, lo) is carried by `send` from now on (a later send of the same identity takes it over). */
  add(hi: number, lo: number, send: number): void {
    if (2 * (this.count + 1) > this.owner.length) this.grow();
    const { keys, owner, mask } = this;
    let i = lo & mask;
    while (owner[i] !== 0 && !(keys[2 * i] === lo && keys[2 * i + 1] === hi)) i = (i + 1) & mask;
    if (owner[i] === 0) {
      keys[2 * i] = lo;
      keys[2 * i + 1] = hi;
      this.count++;
    }
    owner[i] = send;
  }

  /** Drops (hi, lo) when `send` still carries it. */
  remove(hi: number, lo: number, send: number): void {
    let i = this.slotOf(hi, lo);
    if (i < 0 || this.owner[i] !== send) return;
    this.count--;
    // Backward-shift deletion: entries after the hole move into it when their home slot allows,
    // so a probe never stops early at a hole (no tombstones to pile up).
    const { keys, owner, mask } = this;
    for (let j = (i + 1) & mask; owner[j] !== 0; j = (j + 1) & mask) {
      const home = keys[2 * j] & mask;
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      keys[2 * i] = keys[2 * j];
      keys[2 * i + 1] = keys[2 * j + 1];
      owner[i] = owner[j];
      i = j;
    }
    owner[i] = 0;
  }

  private grow(): void {
    const { keys, owner } = this;
    const n = owner.length * 2;
    this.keys = new Int32Array(2 * n);
    this.owner = new Int32Array(n);
    this.mask = n - 1;
    this.count = 0;
    for (let i = 0; i < owner.length; i++) if (owner[i] !== 0) this.add(keys[2 * i + 1], keys[2 * i], owner[i]);
  }
}
