/**
 * HTTP/1.1 on raw sockets for the load generators that share the gateway's cores (open-loop-worker.ts,
 * closed-loop.ts): every request is encoded once per pool entry as one byte template (head and
 * body, event ids as fixed-width placeholders) and sent as a copy with its request number written
 * into the ids; answers are parsed on the bytes just enough (status line, Content-Length,
 * Connection). A few microseconds of CPU per request, where a general HTTP client takes tens.
 */
import type { BodyPool } from './bodies.js';

/** Digits of the request number in every event id (base 36): enough for 3.6e15 requests. */
const ID_DIGITS = 10;

export interface Template {
  /** The whole request, keep-alive and `connection: close`, with zeros where the request number goes. */
  keep: Buffer;
  close: Buffer;
  /** Offsets of the request number in each (the head differs in length, the body does not). */
  keepAt: number[];
  closeAt: number[];
}

/** One template per pool entry; `tag` starts every event id (ids unique to the run). */
export function requestTemplates(pool: Pick<BodyPool, 'size' | 'parts'>, opts: { path: string; port: number; tag: string }): Template[] {
  const template = (j: number): Template => {
    const { parts, ua, ip } = pool.parts(j);
    const idHead = `${opts.tag}-`;
    const zeros = '0'.repeat(ID_DIGITS);
    let body = parts[0];
    const at: number[] = [];
    for (let i = 1; i < parts.length; i++) {
      body += idHead;
      at.push(Buffer.byteLength(body));
      body += `${zeros}-${i - 1}${parts[i]}`;
    }
    const head = (close: boolean) =>
      `POST ${opts.path} HTTP/1.1\r\nhost: 127.0.0.1:${opts.port}\r\ncontent-type: application/json\r\nuser-agent: ${ua}\r\n${close ? 'connection: close\r\n' : ''}` +
      `x-forwarded-for: ${ip}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`;
    const keepHead = Buffer.byteLength(head(false));
    const closeHead = Buffer.byteLength(head(true));
    return {
      keep: Buffer.from(head(false) + body),
      close: Buffer.from(head(true) + body),
      keepAt: at.map((o) => o + keepHead),
      closeAt: at.map((o) => o + closeHead),
    };
  };
  return Array.from({ length: pool.size }, (_, j) => template(j));
}

/** Request number k: a copy of its template with k in every event id (unique ids, no JSON or UTF-8 encoding per request). */
export function requestBytes(templates: Template[], k: number, close: boolean): Buffer {
  const t = templates[k % templates.length];
  const src = close ? t.close : t.keep;
  const out = Buffer.allocUnsafe(src.length);
  src.copy(out);
  const digits = k.toString(36).padStart(ID_DIGITS, '0');
  for (const o of close ? t.closeAt : t.keepAt) out.write(digits, o, ID_DIGITS, 'latin1');
  return out;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
/** Node writes the headers it adds capitalised, Fastify its own lower-case: both spellings, on the bytes. */
const CONTENT_LENGTH = [Buffer.from('\r\ncontent-length:'), Buffer.from('\r\nContent-Length:')];
const CONNECTION_CLOSE = [Buffer.from('\r\nconnection: close'), Buffer.from('\r\nConnection: close')];
const RETRY_AFTER = [Buffer.from('\r\nretry-after:'), Buffer.from('\r\nRetry-After:')];

/** Where one of the spellings of a header starts in the head (bytes up to `end`), -1 when absent. */
function headerAt(buf: Buffer, names: Buffer[], end: number): number {
  for (const name of names) {
    const i = buf.indexOf(name);
    if (i >= 0 && i < end) return i;
  }
  return -1;
}

/** The decimal number after header `names` in the head (bytes up to `end`); -1 when the header is absent. */
function headerNumber(buf: Buffer, names: Buffer[], end: number): number {
  const at = headerAt(buf, names, end);
  if (at < 0) return -1;
  let i = at + names[0].length;
  while (buf[i] === 0x20) i++;
  let n = 0;
  for (; buf[i] >= 0x30 && buf[i] <= 0x39; i++) n = n * 10 + buf[i] - 0x30;
  return n;
}

/**
 * The answer at the start of `buf` once it is whole (head and Content-Length body), else null;
 * `retryAfterS` is the Retry-After header's seconds (0 when absent).
 */
export function parseAnswer(buf: Buffer): { status: number; close: boolean; retryAfterS: number } | null {
  const end = buf.indexOf(CRLFCRLF);
  if (end < 0) return null;
  const length = Math.max(0, headerNumber(buf, CONTENT_LENGTH, end));
  if (buf.length < end + 4 + length) return null;
  // "HTTP/1.1 200 ...": the three digits at 9..11.
  const status = (buf[9] - 0x30) * 100 + (buf[10] - 0x30) * 10 + (buf[11] - 0x30);
  return { status, close: headerAt(buf, CONNECTION_CLOSE, end) >= 0, retryAfterS: Math.max(0, headerNumber(buf, RETRY_AFTER, end)) };
}
