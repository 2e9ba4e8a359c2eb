import { digestLanes, digestText, hash64, hash64Joined, lanes } from './content-digest.js';
import { InFlightIds } from './in-flight-ids.js';

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

/**
 * A random seed per process for the identities' hashes: which two ids collide cannot be worked
 * out in advance, so a client cannot pick an id that shadows another's.
 */
const SEED = (Math.random() * 0x1_0000_0000) | 0;

/** Slot states of a generation. */
const EMPTY = 0;
const NO_DIGEST = 1;
const WITH_DIGEST = 2;

/**
 * One generation: an open-addressing table (linear probing, at most half full) of 64-bit hashes
 * of identities, with per slot the time and the 64-bit content digest it was accepted with, all
 * in typed arrays. A remembered id costs no JS object at all: a Map of 100,000 id strings made
 * the insert of every accepted id and its miss on lookup the largest part of the gateway's own
 * work after JSON (profile of 1 Dec 2026: 18 % in-process), and every string it kept outlived the
 * young generation, so scavenges copied it and every full GC marked it (the GC share and the
 * half-load tail). Two identities with the same 64-bit hash would be taken for one: with at most
 * `max` ids remembered that is about max / 2^64 per event (2e5 / 1.8e19, once in ~10^14 events),
 * and the seed makes it a matter of chance, not of choice; the processor's idempotent writes are
 * keyed by the id itself either way.
 */
class Generation {
  /** Slots filled. */
  count = 0;
  private readonly mask: number;
  constructor(
    /** Per slot EMPTY / NO_DIGEST / WITH_DIGEST. */
    private readonly state: Uint8Array,
    /** Per slot the identity's two hash lanes, then the digest's two lanes. */
    private readonly keys: Int32Array,
    private readonly digests: Int32Array,
    /** Acceptance time per slot. */
    readonly at: Float64Array,
    readonly since: number,
  ) {
    state.fill(EMPTY);
    this.mask = state.length - 1;
  }

  /** The slot of the identity (hi, lo), or -1. */
  find(hi: number, lo: number): number {
    const { state, keys, mask } = this;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      if (state[i] === EMPTY) return -1;
      if (keys[2 * i] === lo && keys[2 * i + 1] === hi) return i;
    }
  }

  /** False for an id accepted without a digest; else true, with the digest's lanes put in `lanes`. */
  contentAt(slot: number): boolean {
    if (this.state[slot] === NO_DIGEST) return false;
    lanes[0] = this.digests[2 * slot];
    lanes[1] = this.digests[2 * slot + 1];
    return true;
  }

  /** Remembers (hi, lo) at `at`; `dHi`/`dLo` are its digest's lanes when `withDigest`. */
  set(hi: number, lo: number, at: number, withDigest: boolean, dHi: number, dLo: number): void {
    const { state, keys, mask } = this;
    let i = lo & mask;
    while (state[i] !== EMPTY && !(keys[2 * i] === lo && keys[2 * i + 1] === hi)) i = (i + 1) & mask;
    if (state[i] === EMPTY) {
      keys[2 * i] = lo;
      keys[2 * i + 1] = hi;
      this.count++;
    }
    state[i] = withDigest ? WITH_DIGEST : NO_DIGEST;
    this.digests[2 * i] = dHi;
    this.digests[2 * i + 1] = dLo;
    this.at[i] = at;
  }

  /** The arrays, for the generation that replaces this one. */
  recycle(): [Uint8Array, Int32Array, Int32Array, Float64Array] {
    return [this.state, this.keys, this.digests, this.at];
  }
}

const generation = (slots: number, since: number) => new Generation(new Uint8Array(slots), new Int32Array(2 * slots), new Int32Array(2 * slots), new Float64Array(slots), since);

/** What `RecentIds.lookup` found. */
export const FORGOTTEN = 0;
export const REMEMBERED = 1;
export const WITH_CONTENT = 2;
export type Remembered = typeof FORGOTTEN | typeof REMEMBERED | typeof WITH_CONTENT;

/** The 64-bit hash of an identity (`identityOf(siteId, eventId)`), seeded per process, into `lanes`. */
export function identityLanes(siteId: string | null, eventId: string): void {
  hash64Joined(siteId ?? '', eventId, SEED);
}

/** `identityLanes` of an identity already joined by `identityOf` (the same hash: `hash64Joined` is `hash64` of the joined text). */
const idLanes = (id: string): void => hash64(id, 0, id.length, SEED);

/**
 * A Map key for an identity among a large batch's own (ingest): 53 of its hash's 64 bits (a
 * number a Map keeps without a string), the full 64 compared on a hit.
 */
export const flightKey = (hi: number, lo: number) => (hi >>> 0) * 0x200000 + (lo >>> 11);

export class RecentIds {
  /**
   * Two generations of ids with the time they were accepted. Adding never walks anything: when
   * the current generation is full (half of `max`) or older than the window, it becomes the
   * previous one and the old previous one is dropped whole (its arrays cleared and reused).
   * An id is remembered for the window, or until `max` newer ids push it out, whichever is first.
   */
  private current: Generation;
  private previous: Generation;
  private readonly inFlight = new InFlightIds();
  private readonly generationMax: number;
  constructor(
    private readonly max = 200_000,
    private readonly ttlMs = 10 * 60_000,
  ) {
    this.generationMax = Math.max(1, Math.floor(max / 2));
    // At most half full: short probe runs.
    let slots = 16;
    while (slots < this.generationMax * 2) slots *= 2;
    this.current = generation(slots, 0);
    this.previous = generation(slots, 0);
  }

  has(id: string, now = Date.now()): boolean {
    return this.digest(id, now) !== undefined;
  }

  /** The digest `id` was accepted with ('' when none was given), or undefined when not remembered. */
  digest(id: string, now = Date.now()): string | undefined {
    idLanes(id);
    const found = this.lookup(lanes[0], lanes[1], now);
    return found === REMEMBERED ? '' : found === WITH_CONTENT ? digestText(lanes[0], lanes[1]) : undefined;
  }

  /**
   * Whether the identity with hash lanes (hi, lo) (`identityLanes`) is remembered: FORGOTTEN, or
   * REMEMBERED (accepted without a digest), or WITH_CONTENT, and then the digest's two lanes are in
   * `lanes` (read them before hashing anything else).
   */
  lookup(hi: number, lo: number, now = Date.now()): Remembered {
    if (this.ttlMs <= 0) return FORGOTTEN;
    let g = this.current;
    let slot = g.find(hi, lo);
    if (slot < 0) {
      g = this.previous;
      slot = g.find(hi, lo);
      if (slot < 0) return FORGOTTEN;
    }
    if (now - g.at[slot] >= this.ttlMs) return FORGOTTEN;
    return g.contentAt(slot) ? WITH_CONTENT : REMEMBERED;
  }

  /** `digest`: '' or a `contentDigest` (16 hex digits); anything else is a programming error. */
  add(id: string, now = Date.now(), digest = ''): void {
    let dHi = 0;
    let dLo = 0;
    const withDigest = digest !== '';
    if (withDigest) {
      if (!digestLanes(digest)) throw new Error(`dedup digest must be 16 hex digits, got ${JSON.stringify(digest)}`);
      dHi = lanes[0];
      dLo = lanes[1];
    }
    idLanes(id);
    this.remember(lanes[0], lanes[1], now, withDigest, dHi, dLo);
  }

  /** Remembers the identity (hi, lo) as accepted at `now`, with the digest (dHi, dLo) when `withDigest`. */
  remember(hi: number, lo: number, now: number, withDigest: boolean, dHi: number, dLo: number): void {
    if (this.ttlMs <= 0 || this.max <= 0) return;
    if (this.current.count >= this.generationMax || now - this.current.since >= this.ttlMs) {
      const [state, keys, digests, at] = this.previous.recycle();
      this.previous = this.current;
      this.current = new Generation(state, keys, digests, at, now);
    }
    this.current.set(hi, lo, now, withDigest, dHi, dLo);
  }

  /** The outcome of a send that carries `id` right now, if there is one. */
  pending(id: string): Promise<void> | undefined {
    idLanes(id);
    return this.pendingOf(lanes[0], lanes[1]);
  }

  /** `pending` of the identity with hash lanes (hi, lo). */
  pendingOf(hi: number, lo: number): Promise<void> | undefined {
    return this.inFlight.get(hi, lo);
  }

  /**
   * Marks the events `which[from..to)` of a request as being sent, by index: their identities'
   * hash lanes at 2 * index of `keys`, their digests' lanes at 2 * index of `digests`. Call the
   * returned function with the outcome once Kafka has answered: acknowledged ones are remembered,
   * and waiters are released either way. Nothing is copied: the arrays must not change until then.
   */
  begin(keys: Int32Array, digests: Int32Array, which: readonly number[], from = 0, to = which.length): (acked: boolean, now?: number) => void {
    let release!: () => void;
    const send = this.inFlight.open(new Promise<void>((resolve) => (release = resolve)));
    for (let k = from; k < to; k++) {
      const i = which[k];
      this.inFlight.add(keys[2 * i], keys[2 * i + 1], send);
    }
    return (acked, now = Date.now()) => {
      for (let k = from; k < to; k++) {
        const i = which[k];
        const hi = keys[2 * i];
        const lo = keys[2 * i + 1];
        if (acked) this.remember(hi, lo, now, true, digests[2 * i], digests[2 * i + 1]);
        this.inFlight.remove(hi, lo, send);
      }
      this.inFlight.close(send);
      release();
    };
  }

  get size(): number {
    return this.current.count + this.previous.count;
  }

  get pendingSize(): number {
    return this.inFlight.size;
  }
}
