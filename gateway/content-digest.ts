/**
 * What an event's content is, to tell a retry (the same bytes again) from another event sent
 * under the same id (a conflict): a 64-bit hash of its UTF-8 bytes as sent, written as 16 hex
 * digits. Not a cryptographic hash: it only compares two versions of one event id of one site,
 * and a client forging a collision can only get its own second version answered "duplicate"
 * instead of refused. Two independent 32-bit lanes (FNV-1a and a murmur-style multiply) over
 * the bytes read four at a time, each finished with murmur3's avalanche: in JavaScript, with no
 * native call per event; SHA-256 of the same spans cost about 3x more (profile of 1 Dec 2026).
 * Read from the body's own bytes four at a time, a request took about 2 % less CPU than with one
 * UTF-16 unit of its text a step (bench:gateway-http-work, 5 Dec 2026).
 *
 * Dedup identities (site, event id) are hashed by `hash64` below, over UTF-16 units and seeded:
 * they are short, and only ever compared with each other.
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
 * The two 32-bit lanes of the last `hash64` or `contentDigest` (a module-level pair, not an array
 * per call: the dedup table hashes every event and keeps the lanes in typed arrays, never as objects).
 */
export const lanes = new Int32Array(2);

/** 64-bit hash of the UTF-16 units of text[start, end) into `lanes`, seeded (dedup identities: a per-process random seed). */
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
  digestTextSpan(text, start, end, lanes, 0);
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
 * The content digest's two lanes of bytes [start, end) of `view`, written to `out[2 * at]` and
 * `out[2 * at + 1]` (as numbers: dedup compares and stores lanes, and a digest's text is only
 * written when a dead letter shows it).
 */
export function digestBytes(view: DataView, start: number, end: number, out: Int32Array, at: number): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const w = view.getInt32(i, true);
    a = Math.imul(a ^ w, 0x01000193);
    b = Math.imul(b ^ w, 0x5bd1e995);
    b ^= b >>> 15;
  }
  if (i < end) {
    // The last one to three bytes, as a word padded with zeros (the length, mixed in below, tells "a" from "a\0").
    let w = 0;
    for (let shift = 0; i < end; i++, shift += 8) w |= view.getUint8(i) << shift;
    a = Math.imul(a ^ w, 0x01000193);
    b = Math.imul(b ^ w, 0x5bd1e995);
    b ^= b >>> 15;
  }
  out[2 * at] = fmix(a);
  out[2 * at + 1] = fmix(b ^ (end - start));
}

let scratch = new Uint8Array(1024);
let scratchView = new DataView(scratch.buffer);

/**
 * text[start, end) as UTF-8 in `scratch` (grown as needed); returns the byte count. A lone
 * surrogate is written as the three bytes of its code point (generalised UTF-8), not replaced
 * as TextEncoder would: two texts that differ only there keep different digests.
 */
function utf8(text: string, start: number, end: number): number {
  if (scratch.length < 3 * (end - start)) {
    scratch = new Uint8Array(3 * (end - start));
    scratchView = new DataView(scratch.buffer);
  }
  const s = scratch;
  let n = 0;
  for (let i = start; i < end; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) s[n++] = c;
    else if (c < 0x800) {
      s[n++] = 0xc0 | (c >> 6);
      s[n++] = 0x80 | (c & 63);
    } else {
      const d = c >= 0xd800 && c < 0xdc00 && i + 1 < end ? text.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        s[n++] = 0xf0 | (c >> 18);
        s[n++] = 0x80 | ((c >> 12) & 63);
      } else s[n++] = 0xe0 | (c >> 12);
      s[n++] = 0x80 | ((c >> 6) & 63);
      s[n++] = 0x80 | (c & 63);
    }
  }
  return n;
}

/** `digestBytes` of the UTF-8 of text[start, end), for a text whose bytes are not at hand. */
export function digestTextSpan(text: string, start: number, end: number, out: Int32Array, at: number): void {
  const n = utf8(text, start, end); // first: it may replace the scratch and its view
  digestBytes(scratchView, 0, n, out, at);
}
