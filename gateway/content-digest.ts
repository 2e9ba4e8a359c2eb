/**
 * What an event's content is, to tell a retry (the same bytes again) from another event sent
 * under the same id (a conflict): a 64-bit hash of its text as sent, written as 16 hex digits.
 * Not a cryptographic hash: it only compares two versions of one event id of one site, and a
 * client forging a collision can only get its own second version answered "duplicate" instead
 * of refused. Two independent 32-bit lanes (FNV-1a and a murmur-style multiply) over the UTF-16
 * code units, each finished with murmur3's avalanche: in JavaScript, on the string as parsed,
 * with no UTF-8 copy and no native call per event; SHA-256 of the same spans cost about 3x more
 * (profile of 1 Dec 2026).
 */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const hex8 = (n: number) => HEX[n >>> 24] + HEX[(n >>> 16) & 255] + HEX[(n >>> 8) & 255] + HEX[n & 255];

/**
 * The two 32-bit lanes of the last `hash64` (a module-level pair, not an array per call: the
 * dedup table hashes every event and keeps the lanes in typed arrays, never as objects).
 */
export const lanes = new Int32Array(2);

/**
 * 64-bit hash of text[start, end) into `lanes`. `seed` varies the lanes (0 for content digests,
 * which dead letters show and tests compare; a per-process random one for dedup identities).
 */
export function hash64(text: string, start = 0, end = text.length, seed = 0): void {
  let a = 0x811c9dc5 ^ seed;
  let b = 0x9747b28c ^ Math.imul(seed, 0x2545f491);
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  lanes[0] = fmix(a);
  lanes[1] = fmix(b ^ (end - start));
}

/** The digest of text[start, end). */
export function contentDigest(text: string, start = 0, end = text.length): string {
  hash64(text, start, end);
  return hex8(lanes[0]) + hex8(lanes[1]);
}

/** 16 hex digits as written by `contentDigest` back into `lanes`; false when `d` is not such a digest. */
export function digestLanes(d: string): boolean {
  if (d.length !== 16) return false;
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 16; i++) {
    const c = d.charCodeAt(i);
    const v = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (v < 0) return false;
    if (i < 8) hi = (hi << 4) | v;
    else lo = (lo << 4) | v;
  }
  lanes[0] = hi;
  lanes[1] = lo;
  return true;
}

/** `contentDigest`'s text of the two lanes. */
export const digestText = (hi: number, lo: number): string => hex8(hi) + hex8(lo);

/**
 * `hash64` of `${head}\u0000${tail}` with `seed`, into `lanes`, without building that string: a
 * dedup identity (site, event id) is hashed once per event from its two parts (a joined string
 * per event, flattened for hashing, was an allocation and a copy per event).
 */
export function hash64Joined(head: string, tail: string, seed: number): void {
  let a = 0x811c9dc5 ^ seed;
  let b = 0x9747b28c ^ Math.imul(seed, 0x2545f491);
  for (let i = 0; i < head.length; i++) {
    const c = head.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a = Math.imul(a, 0x01000193); // the separator, U+0000
  b = Math.imul(b, 0x5bd1e995);
  b ^= b >>> 15;
  for (let i = 0; i < tail.length; i++) {
    const c = tail.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  lanes[0] = fmix(a);
  lanes[1] = fmix(b ^ (head.length + 1 + tail.length));
}

/**
 * End (exclusive) of the JSON object or array that opens at text[start] (a body JSON.parse
 * accepted), with its `contentDigest`'s two lanes written to `lanesOut[2 * at]` and
 * `lanesOut[2 * at + 1]` (as numbers: dedup compares and stores lanes, and a digest's text is
 * only written when a dead letter shows it). One pass over the event's text both finds where it
 * ends and hashes it, where finding the spans first and hashing them after read every event twice
 * (the two were 14 % of the gateway's own work, profile of 1 Dec 2026).
 * Kept to hash64's arithmetic: gateway/content-digest.test.ts checks both give the same digest.
 */
export function hashedValueEnd(text: string, start: number, lanesOut: Int32Array, at: number): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  let depth = 0;
  const n = text.length;
  let i = start;
  while (i < n) {
    let c = text.charCodeAt(i++);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
    if (c === 0x22) {
      // A string: to its closing quote; an escaped character never closes it.
      while (i < n) {
        c = text.charCodeAt(i++);
        a = Math.imul(a ^ c, 0x01000193);
        b = Math.imul(b ^ c, 0x5bd1e995);
        b ^= b >>> 15;
        if (c === 0x22) break;
        if (c === 0x5c && i < n) {
          c = text.charCodeAt(i++);
          a = Math.imul(a ^ c, 0x01000193);
          b = Math.imul(b ^ c, 0x5bd1e995);
          b ^= b >>> 15;
        }
      }
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if ((c === 0x7d || c === 0x5d) && --depth === 0) break;
  }
  lanesOut[2 * at] = fmix(a);
  lanesOut[2 * at + 1] = fmix(b ^ (i - start));
  return i;
}
