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
 * Memory: this holds one entry per counted record of the last `horizon` offsets of every
 * topic-partition (ANALYTICS_REPEAT_HORIZON and ARCHIVE_REPEAT_HORIZON, 50,000 by default: over a
 * million entries with 6 partitions of 4 topics), so entries are kept compact instead of as a
 * string-keyed Map: the key's bytes in one byte ring, offsets, hashes and key positions in typed
 * arrays, an open-addressing table of entry indices, and the owners in a plain array. About 80
 * bytes per entry with an SDK event id, against about 150 for a Map of strings
 * (`npm run bench:repeats`). Pure: no Node, Kafka or AWS.
 */
export class RecentCounts<S> {
  /** Entries, a ring of `cap` slots: the oldest at `head`, `count` of them. */
  private cap = 0;
  private head = 0;
  private count = 0;
  private offsets = new Float64Array(0);
  private hashes = new Int32Array(0);
  /** Where each entry's key starts in `bytes` (virtual position: physical is modulo its length) and its length. */
  private keyAt = new Float64Array(0);
  private keyLen = new Int32Array(0);
  private owners: (S | undefined)[] = [];
  /** The keys' bytes, a ring: entries' keys lie in [oldest entry's keyAt, keyEnd). */
  private bytes = new Uint8Array(0);
  private keyEnd = 0;
  /** Open addressing (linear probing): entry slot + 1 of the latest entry of each key, 0 empty. */
  private table = new Int32Array(0);
  private keys = 0;
  /** The last key encoded (the engine asks `countedBy` then `counted` with the same key). */
  private lastKey: string | null = null;
  private scratch = new Uint8Array(256);
  private scratchLen = 0;
  private scratchHash = 0;
  /**
   * The table slot `countedBy` found for `lastKey` (-1: none), while no entry was added or removed
   * since: `counted` for the same record then does not look the key up again.
   */
  private lastSlot = -1;
  private lastSlotValid = false;

  /** `horizon` 0: nothing is remembered and nothing is a repeat. */
  constructor(readonly horizon: number) {}

  /** Called for a record at `offset` (offsets increasing) before it is counted: who counted the same key within the horizon. */
  countedBy(key: string, offset: number): S | undefined {
    if (this.horizon <= 0) return undefined;
    this.forget(offset);
    if (this.keys === 0) return undefined;
    this.encode(key);
    const slot = this.find(this.scratch, 0, this.scratchLen, this.scratchHash);
    this.lastSlot = slot;
    this.lastSlotValid = true;
    return slot < 0 ? undefined : this.owners[this.table[slot] - 1];
  }

  /** Called once the record at `offset` was counted by `owner` (after `countedBy` for that offset). */
  counted(key: string, offset: number, owner: S): void {
    if (this.horizon <= 0) return;
    this.forget(offset);
    const known = this.lastSlotValid && key === this.lastKey;
    this.encode(key);
    const len = this.scratchLen;
    if (this.count === this.cap || !this.fits(len)) this.grow(len);
    let at = this.keyEnd;
    const size = this.bytes.length;
    if ((at % size) + len > size) at += size - (at % size); // keys never wrap: skip the ring's end
    // Byte by byte: a key is short, and a subarray to copy from was an object per record.
    const bytes = this.bytes;
    const scratch = this.scratch;
    for (let i = 0, to = at % size; i < len; i++) bytes[to + i] = scratch[i];
    this.keyEnd = at + len;
    const e = (this.head + this.count) % this.cap;
    this.count++;
    this.offsets[e] = offset;
    this.hashes[e] = this.scratchHash;
    this.keyAt[e] = at;
    this.keyLen[e] = len;
    this.owners[e] = owner;
    // grow and forget rebuild or move table slots: they clear lastSlotValid.
    const slot = known && this.lastSlotValid ? this.lastSlot : this.find(this.scratch, 0, len, this.scratchHash);
    this.lastSlotValid = false;
    if (slot >= 0) this.table[slot] = e + 1;
    else {
      this.table[this.freeSlot(this.scratchHash)] = e + 1;
      this.keys++;
    }
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
    return this.keys;
  }

  /** Forgets the entries before offset - horizon; a key goes with its forgotten entry when no later owner counted it since. */
  private forget(offset: number): void {
    const floor = offset - this.horizon;
    while (this.count > 0 && this.offsets[this.head] < floor) {
      const e = this.head;
      const slot = this.find(this.bytes, this.keyAt[e] % this.bytes.length, this.keyLen[e], this.hashes[e]);
      if (slot >= 0 && this.owners[this.table[slot] - 1] === this.owners[e]) {
        this.remove(slot);
        this.lastSlotValid = false;
      }
      this.owners[e] = undefined;
      this.head = (this.head + 1) % this.cap;
      this.count--;
    }
    if (this.count === 0) this.keyEnd = 0;
  }

  /** Whether `len` more key bytes fit in the byte ring after the live ones (keys do not wrap). */
  private fits(len: number): boolean {
    const size = this.bytes.length;
    if (size === 0) return false;
    let at = this.keyEnd;
    if ((at % size) + len > size) at += size - (at % size);
    const start = this.count > 0 ? this.keyAt[this.head] : at;
    return at + len - start <= size;
  }

  /**
   * Rebuilds every structure larger, the live entries first. Each rebuild copies every live entry:
   * the byte ring is sized for the new entry capacity at the keys' mean length, so it does not
   * fill up (and rebuild everything again) long before the entries do, and the live keys' bytes
   * are copied in at most two blocks. Until a topic-partition has `horizon` offsets behind it
   * (two minutes at 10,000 events/s over 24 topic-partitions) every record pays for these.
   */
  private grow(len: number): void {
    const n = this.count;
    const old = this.bytes;
    const oldSize = old.length;
    // The live keys lie in the virtual span [start, keyEnd) (a few bytes skipped at the ring's end included).
    const start = n > 0 ? this.keyAt[this.head] : this.keyEnd;
    const span = this.keyEnd - start;
    // Offsets only grow, so at most horizon + 1 entries are ever live: no slack past that.
    const cap = this.count === this.cap ? Math.min(Math.max(256, (n + 1) * 2), this.horizon + 1) : this.cap;
    const perKey = n > 0 ? span / n : len;
    const byteSize = Math.max(1024, Math.ceil((span + len) * 1.5), len * 2, Math.ceil(perKey * cap * 1.1));
    const offsets = new Float64Array(cap);
    const hashes = new Int32Array(cap);
    const keyAt = new Float64Array(cap);
    const keyLen = new Int32Array(cap);
    const owners: (S | undefined)[] = new Array<S | undefined>(cap);
    const bytes = new Uint8Array(byteSize);
    if (span > 0) {
      const from = start % oldSize;
      const first = Math.min(span, oldSize - from);
      bytes.set(old.subarray(from, from + first), 0);
      if (first < span) bytes.set(old.subarray(0, span - first), first);
    }
    for (let i = 0; i < n; i++) {
      const e = (this.head + i) % this.cap;
      offsets[i] = this.offsets[e];
      hashes[i] = this.hashes[e];
      keyAt[i] = this.keyAt[e] - start;
      keyLen[i] = this.keyLen[e];
      owners[i] = this.owners[e];
    }
    // Which entries the table pointed at (the latest of each key), by their new slots.
    const latest = new Uint8Array(cap);
    for (let s = 0; s < this.table.length; s++) {
      const v = this.table[s];
      if (v !== 0) latest[(v - 1 - this.head + this.cap) % this.cap] = 1;
    }
    let tableSize = 16;
    while (tableSize < cap * 1.5) tableSize *= 2;
    Object.assign(this, { cap, head: 0, offsets, hashes, keyAt, keyLen, owners, bytes, keyEnd: span, table: new Int32Array(tableSize), lastSlotValid: false });
    for (let i = 0; i < n; i++) if (latest[i]) this.table[this.freeSlot(hashes[i])] = i + 1;
  }

  /** The table slot of the entry whose key is `src[from, from + len)` with hash `h`, or -1. */
  private find(src: Uint8Array, from: number, len: number, h: number): number {
    const mask = this.table.length - 1;
    if (mask < 0) return -1;
    const size = this.bytes.length;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const v = this.table[s];
      if (v === 0) return -1;
      const e = v - 1;
      if (this.hashes[e] !== h || this.keyLen[e] !== len) continue;
      const at = this.keyAt[e] % size;
      let i = 0;
      while (i < len && this.bytes[at + i] === src[from + i]) i++;
      if (i === len) return s;
    }
  }

  private freeSlot(h: number): number {
    const mask = this.table.length - 1;
    let s = h & mask;
    while (this.table[s] !== 0) s = (s + 1) & mask;
    return s;
  }

  /** Empties a table slot, moving later entries of its probe run back (backward-shift deletion). */
  private remove(slot: number): void {
    const mask = this.table.length - 1;
    let i = slot;
    for (let j = (i + 1) & mask; this.table[j] !== 0; j = (j + 1) & mask) {
      const home = this.hashes[this.table[j] - 1] & mask;
      // The entry at j stays when its home lies cyclically in (i, j].
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      this.table[i] = this.table[j];
      i = j;
    }
    this.table[i] = 0;
    this.keys--;
  }

  /** The key's UTF-16 code units as 1 to 3 bytes each (one-to-one), and their FNV-1a hash, into `scratch`. */
  private encode(key: string): void {
    if (key === this.lastKey) return;
    if (this.scratch.length < key.length * 3) this.scratch = new Uint8Array(key.length * 3);
    const b = this.scratch;
    let n = 0;
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      if (c < 0x80) b[n++] = c;
      else if (c < 0x800) {
        b[n++] = 0xc0 | (c >> 6);
        b[n++] = 0x80 | (c & 0x3f);
      } else {
        b[n++] = 0xe0 | (c >> 12);
        b[n++] = 0x80 | ((c >> 6) & 0x3f);
        b[n++] = 0x80 | (c & 0x3f);
      }
    }
    for (let i = 0; i < n; i++) h = Math.imul(h ^ b[i], 0x01000193);
    this.scratchLen = n;
    this.scratchHash = h;
    this.lastKey = key;
  }
}
