/**
 * Where each event of a request body sits in its text, so a dead letter can keep the event's
 * bytes as sent (JSON.parse turns `1e400` into Infinity and a 32-digit integer into a float:
 * the parsed form alone does not show what the client sent), and each event's content digest
 * for dedup (gateway/content-digest.ts). Only called for bodies that JSON.parse accepted.
 */
import { digestBytes, digestTextSpan } from './content-digest.js';

const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xfeff;

function skipWs(t: string, i: number): number {
  while (i < t.length && isWs(t.charCodeAt(i))) i++;
  return i;
}

/** End (exclusive) of the string whose opening quote is at `i`: the next quote not escaped (indexOf: most of a body is inside strings). */
function skipString(t: string, i: number): number {
  for (let from = i + 1; ; ) {
    const q = t.indexOf('"', from);
    if (q < 0) return t.length;
    let b = q - 1;
    while (b > i && t.charCodeAt(b) === 0x5c) b--;
    // An even run of backslashes escapes only itself.
    if ((q - 1 - b) % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/** End (exclusive) of the JSON value starting at `i`; iterative, so depth costs no stack. */
function skipValue(t: string, i: number): number {
  const c = t.charCodeAt(i);
  if (c === 0x22) return skipString(t, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (; i < t.length; i++) {
      const d = t.charCodeAt(i);
      if (d === 0x22) i = skipString(t, i) - 1;
      else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return i;
  }
  while (i < t.length) {
    const d = t.charCodeAt(i);
    if (d === 0x2c || d === 0x5d || d === 0x7d || isWs(d)) break;
    i++;
  }
  return i;
}

/** End (exclusive) of the array the last `elements` call read. */
let elementsEnd = 0;

/**
 * The content digest of the event at text[start, end) into `digests` at index `at`: from the
 * body's bytes when `ascii` holds them (a char offset is then a byte offset), else from the text.
 */
function digestSpan(t: string, start: number, end: number, digests: Int32Array, at: number, ascii: DataView | undefined): void {
  if (ascii) digestBytes(ascii, start, end, digests, at);
  else digestTextSpan(t, start, end, digests, at);
}

function elements(t: string, i: number, digests?: Int32Array, ascii?: DataView): [number, number][] {
  const out: [number, number][] = [];
  i++;
  for (;;) {
    i = skipWs(t, i);
    if (i >= t.length || t.charCodeAt(i) === 0x5d) {
      elementsEnd = Math.min(i + 1, t.length);
      return out;
    }
    const c = t.charCodeAt(i);
    const end = skipValue(t, i);
    // An event (an object) is digested; whatever else is there is only skipped.
    if (digests && (c === 0x7b || c === 0x5b)) digestSpan(t, i, end, digests, out.length, ascii);
    out.push([i, end]);
    i = skipWs(t, end);
    if (t.charCodeAt(i) === 0x2c) i++;
  }
}

/**
 * The [start, end) of every event in a body JSON.parse accepted: the elements of a top-level
 * array, of the `events` array of an envelope (the last `events` key, as JSON.parse keeps), or
 * the whole body when it is one event object. Null when the body is none of these. With
 * `digests`, the two lanes of the `contentDigest` of each event that is an object or array are
 * written at 2 * its index and the next (`digests` holds two per event of the body). `ascii`: the
 * body's UTF-8 bytes, given only when they are as many as its chars (every char ASCII).
 */
export function eventSpans(text: string, digests?: Int32Array, ascii?: DataView): [number, number][] | null {
  let i = skipWs(text, 0);
  const c = text.charCodeAt(i);
  if (c === 0x5b) return elements(text, i, digests, ascii);
  if (c !== 0x7b) return null;
  const start = i;
  let events: [number, number][] | null = null;
  let hasType = false;
  i++;
  for (;;) {
    i = skipWs(text, i);
    if (i >= text.length || text.charCodeAt(i) === 0x7d) break;
    const keyEnd = skipString(text, i);
    let key: unknown;
    try {
      key = JSON.parse(text.slice(i, keyEnd));
    } catch {
      return null;
    }
    i = skipWs(text, keyEnd) + 1; // the colon
    i = skipWs(text, i);
    let end: number;
    if (key === 'events' && text.charCodeAt(i) === 0x5b) {
      // JSON.parse keeps the last `events`: so do the spans and the digests (written over). Read
      // once: skipping the array first and then reading its elements read most of the body twice.
      events = elements(text, i, digests, ascii);
      end = elementsEnd;
    } else {
      if (key === 'events') events = null;
      end = skipValue(text, i);
    }
    if (key === 'type') hasType = true;
    i = skipWs(text, end);
    if (text.charCodeAt(i) === 0x2c) i++;
  }
  if (events) return events;
  if (!hasType) return null;
  const end = skipValue(text, start);
  if (digests) digestSpan(text, start, end, digests, 0, ascii);
  return [[start, end]];
}
