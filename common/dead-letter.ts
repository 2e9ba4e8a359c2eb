import type { DeadLetter } from '../contracts/dead-letter.js';

/**
 * The one builder of dead-letter records (contracts/dead-letter.ts), used by the gateway and the
 * processor alike: the same bounds, the same marks, the same fields whoever refused the item.
 */

/** What the writer knows about the refused item; everything but code and reason is optional. */
export interface DeadLetterInput {
  code: string;
  reason: string;
  /** The item as parsed (or the document the processor tried to write). Undefined: none exists. */
  parsed?: unknown;
  /** The bytes as received: a string is text already decoded; bytes are checked for valid UTF-8. */
  received?: string | Uint8Array | null;
  siteId?: string | null;
  index?: number | null;
  origin?: DeadLetter['origin'];
  digests?: DeadLetter['digests'];
}

/**
 * JSON of `value`, the same text JSON.stringify gives for parsed JSON, but cut below
 * `maxDepth` levels ("…") and once about `maxChars` characters are written: a dead letter
 * keeps a bounded payload whatever the client sent, and a 30,000-deep array costs no
 * stack overflow.
 */
export function shallowJson(value: unknown, maxDepth: number, maxChars: number): string {
  let out = '';
  const walk = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object') {
      out += (typeof v === 'bigint' ? String(v) : JSON.stringify(v)) ?? 'null';
      return;
    }
    if (depth >= maxDepth) {
      out += '"…"';
      return;
    }
    if (Array.isArray(v)) {
      out += '[';
      for (let i = 0; i < v.length && out.length <= maxChars; i++) {
        if (i) out += ',';
        walk(v[i], depth + 1);
      }
      out += ']';
      return;
    }
    out += '{';
    let first = true;
    for (const k in v) {
      if (!Object.hasOwn(v, k)) continue;
      if (out.length > maxChars) break;
      if (!first) out += ',';
      first = false;
      out += `${JSON.stringify(k)}:`;
      walk((v as Record<string, unknown>)[k], depth + 1);
    }
    out += '}';
  };
  walk(value, 0);
  return out;
}

/** UTF-8 length of a string without encoding it (a 10 MB body is only measured). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** `s` cut to at most `limit` UTF-8 bytes, on a character boundary. */
function cutUtf8(s: string, limit: number): { text: string; cut: number } {
  const total = utf8Length(s);
  if (total <= limit) return { text: s, cut: 0 };
  let n = 0;
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    const w = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (n + w > limit) break;
    n += w;
    if (pair) i++;
  }
  return { text: s.slice(0, i), cut: total - n };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function receivedForm(received: string | Uint8Array, limit: number): { text: string; encoding: 'utf8' | 'base64'; bytes: number; truncated: boolean } {
  if (typeof received === 'string') {
    const { text, cut } = cutUtf8(received, limit);
    return { text: cut ? `${text}…[truncated ${cut} bytes]` : text, encoding: 'utf8', bytes: utf8Length(received), truncated: cut > 0 };
  }
  const bytes = received.byteLength;
  let text: string | null = null;
  try {
    text = strictUtf8.decode(received);
  } catch {
    // Not UTF-8: kept exactly, as base64 of the first `limit` bytes.
  }
  if (text !== null) {
    const { text: t, cut } = cutUtf8(text, limit);
    return { text: cut ? `${t}…[truncated ${cut} bytes]` : t, encoding: 'utf8', bytes, truncated: cut > 0 };
  }
  const head = received.subarray(0, limit);
  return { text: Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('base64'), encoding: 'base64', bytes, truncated: bytes > limit };
}

/**
 * A dead-letter record. `raw` is the parsed form as JSON and `received` the bytes as they came,
 * each at most `limitBytes` bytes of UTF-8 (base64 bytes are counted before encoding).
 */
export function buildDeadLetter(source: DeadLetter['source'], input: DeadLetterInput, limitBytes: number, now = Date.now()): DeadLetter {
  const rec = input.received === undefined || input.received === null ? null : receivedForm(input.received, limitBytes);
  let raw: string;
  let rawCut = 0;
  if (input.parsed === undefined) {
    // Nothing could be parsed (malformed JSON): the parsed form is what was received, as text.
    raw = rec?.encoding === 'utf8' ? rec.text : '';
  } else {
    const json = typeof input.parsed === 'string' ? JSON.stringify(input.parsed) : shallowJson(input.parsed, 64, limitBytes);
    const c = cutUtf8(json, limitBytes);
    raw = c.cut ? `${c.text}…[truncated ${c.cut} bytes]` : c.text;
    rawCut = c.cut;
  }
  return {
    source,
    code: input.code,
    reason: input.reason,
    raw,
    received: rec?.text ?? null,
    received_encoding: rec?.encoding ?? null,
    received_bytes: rec?.bytes ?? null,
    truncated: rawCut > 0 || (rec?.truncated ?? false),
    site_id: input.siteId ?? null,
    received_at: new Date(now).toISOString(),
    index: input.index ?? null,
    origin: input.origin ?? null,
    digests: input.digests ?? null,
  };
}
