/**
 * A set of small non-negative integers (the engine's visitor and session handles, handles.ts):
 * open addressing with linear probing over one Int32Array. A KPI window's distinct sets are
 * looked up several times per event; a Set of id strings hashed and compared each event's fresh
 * copy of the id (~150 ns a lookup on a busy machine), this takes ~30 ns, and holds no pointer
 * the garbage collector has to trace. Pure: no Node.
 */
const EMPTY = new Int32Array(0);
/** Fibonacci hashing: the top bits of x * 2^32 / phi spread consecutive handles over the table. */
const PHI = 0x9e3779b1 | 0;

export class IntSet {
  /** x + 1 per used slot, 0 for a free one; the length is 0 or a power of two. */
  private slots: Int32Array = EMPTY;
  /** 32 - log2(slots.length): the shift that keeps the hash's top bits. */
  private shift = 32;
  size = 0;

  has(x: number): boolean {
    const slots = this.slots;
    if (slots.length === 0) return false;
    const mask = slots.length - 1;
    const key = x + 1;
    for (let s = Math.imul(x, PHI) >>> this.shift; ; s = (s + 1) & mask) {
      const v = slots[s];
      if (v === key) return true;
      if (v === 0) return false;
    }
  }

  /** Adds `x`: true when it was not there. */
  add(x: number): boolean {
    // At most half full: probes stay short.
    if ((this.size + 1) * 2 > this.slots.length) this.grow();
    const slots = this.slots;
    const mask = slots.length - 1;
    const key = x + 1;
    for (let s = Math.imul(x, PHI) >>> this.shift; ; s = (s + 1) & mask) {
      const v = slots[s];
      if (v === key) return false;
      if (v === 0) {
        slots[s] = key;
        this.size++;
        return true;
      }
    }
  }

  /** Every member, in no particular order. */
  forEach(fn: (x: number) => void): void {
    const slots = this.slots;
    for (let s = 0; s < slots.length; s++) if (slots[s] !== 0) fn(slots[s] - 1);
  }

  private grow(): void {
    const old = this.slots;
    const length = Math.max(4, old.length * 2);
    this.slots = new Int32Array(length);
    this.shift = 32 - Math.log2(length);
    this.size = 0;
    for (let s = 0; s < old.length; s++) if (old[s] !== 0) this.add(old[s] - 1);
  }
}
