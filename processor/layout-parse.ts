/**
 * A parse of only some fields of an enriched event's JSON, for a role that reads few of them
 * (the analytics role reads 16 of 52): JSON.parse of the whole ~1.2 KB record was the largest
 * single cost of that role's own code (2.3 µs of its ~19 µs per event), and every field it
 * built was garbage at once. This one takes ~0.9 µs.
 *
 * It relies on the layout the gateway writes (gateway/enrich.ts `enrichedJson`, held to
 * JSON.stringify of the enriched event): the fields of ENRICHED_FIELDS in that order, no
 * whitespace. With no backslash anywhere in the text, every `"` delimits a string, so a key
 * `,"country":` found by search is the key itself, never text inside a value. Each field asked for
 * is looked up after the previous one, and its value is read strictly (a string without control
 * characters, null, true, false, or a JSON number, followed by `,` or `}`); the fields between
 * are not read. Anything else (a backslash, another field order, whitespace, a malformed value)
 * returns undefined and the caller parses the record whole, so every value returned is the one
 * JSON.parse gives. Not checked: the fields it skips (a record well formed in every field it reads
 * but broken in one it skips is read; the gateway never writes one).
 *
 * From bytes (`layoutBytesParser`, what the analytics role's Fetch hands over): the record is
 * read as Latin-1 text, one character per byte, so positions in it are positions in the bytes and
 * the UTF-8 text of the whole record is never made. Every byte of a multi-byte UTF-8 character is
 * 0x80 or above, so quotes, backslashes, keys and numbers are found exactly as in the UTF-8 text;
 * a string value is then taken from its bytes at once: a field with a character above 0x7f
 * decoded as UTF-8 (its quotes are ASCII, so that decoding is the same as the whole record's
 * between them), an ASCII one as Latin-1.
 */
import { ENRICHED_FIELDS, type EnrichedEvent, type EnrichedFieldName } from '../contracts/event-schema.js';
import { ANALYTICS_FIELDS } from './analytics/analytics-event.js';
import { parseValue } from './readable.js';

const NAMES = Object.keys(ENRICHED_FIELDS) as EnrichedFieldName[];
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

const QUOTE = 34;
const COMMA = 44;
const CLOSE = 125;
const N = 110;
const T = 116;
const F = 102;

/**
 * A string of its own: V8 makes a slice of 13 characters or more a view into the whole record text,
 * so an id or URL kept in the engine's windows would hold its ~1.2 KB record alive (analytics RSS at
 * 10,000 events/s went from 457 to 876 MB). Concatenating and slicing again copies it into a string
 * that holds only itself.
 */
const SLICED_MIN = 13;

/**
 * `buf.toString('latin1', start, end)` without its argument checks (the bounds are the record's):
 * Node's own Latin-1 decoder that toString calls, undocumented but on every Buffer since Node 0.x;
 * the checks were 4 % of the role's CPU.
 */
const latin1 = (buf: Buffer, start: number, end: number): string => (buf as Buffer & { latin1Slice(start: number, end: number): string }).latin1Slice(start, end);
const ownString = (s: string): string => (s.length < SLICED_MIN ? s : (' ' + s).slice(1));

/**
 * A parser of `fields` (in any order) out of the gateway's layout: those fields, as JSON.parse
 * would give them, or undefined when the text is not in that layout.
 */
export function layoutParser<K extends EnrichedFieldName>(fields: readonly K[]): (text: string) => Pick<EnrichedEvent, K> | undefined {
  const read = layoutReader(fields);
  return (text) => read(text, null, 0);
}

/**
 * A parser of `fields` out of the bytes `buf[start, end)` of a record in the gateway's layout
 * (UTF-8): what `layoutParser` gives of its text, or undefined when it would give undefined.
 */
export function layoutBytesParser<K extends EnrichedFieldName>(fields: readonly K[]): (buf: Buffer, start: number, end: number) => Pick<EnrichedEvent, K> | undefined {
  const read = layoutReader(fields);
  return (buf, start, end) => read(latin1(buf, start, end), buf, start);
}

/** `text` is the record's text, or with `buf`, the Latin-1 reading of `buf` from `base` (see the top of the file). */
function layoutReader<K extends EnrichedFieldName>(fields: readonly K[]): (text: string, buf: Buffer | null, base: number) => Pick<EnrichedEvent, K> | undefined {
  const order = NAMES.filter((n) => (fields as readonly string[]).includes(n));
  /** What precedes each value: `{"event_id":`, `,"event_type":`, ... */
  const keys = order.map((f) => (f === NAMES[0] ? '{' : ',') + JSON.stringify(f) + ':');
  const count = order.length;
  const values: unknown[] = new Array<unknown>(count);
  /**
   * The result as one object literal of these keys, compiled once: stored key by key in a loop,
   * its 16 keyed stores were megamorphic (0.3 of the parse's 1.9 µs per record). The keys are
   * field names of ENRICHED_FIELDS, written as JSON strings.
   */
  const build = new Function('v', `return {${order.map((f, k) => `${JSON.stringify(f)}: v[${k}]`).join(', ')}};`) as (v: unknown[]) => Pick<EnrichedEvent, K>;
  return (text, buf, base) => {
    if (text.indexOf('\\') !== -1 || text.charCodeAt(text.length - 1) !== CLOSE) return undefined;
    let i = 0;
    for (let k = 0; k < count; k++) {
      const key = keys[k];
      const at = key.charCodeAt(0) === 123 ? (text.startsWith(key) ? 0 : -1) : text.indexOf(key, i);
      if (at < 0) return undefined;
      i = at + key.length;
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        const end = text.indexOf('"', i + 1);
        if (end < 0) return undefined;
        let wide = false;
        for (let j = i + 1; j < end; j++) {
          const ch = text.charCodeAt(j);
          if (ch < 32) return undefined;
          if (ch > 127) wide = true;
        }
        // From bytes, one fresh string per value: no slice of the record, so nothing kept holds it.
        if (buf === null) values[k] = ownString(text.slice(i + 1, end));
        else if (wide) values[k] = buf.toString('utf8', base + i + 1, base + end);
        else values[k] = end - i - 1 < SLICED_MIN ? text.slice(i + 1, end) : latin1(buf, base + i + 1, base + end);
        i = end + 1;
      } else if (c === N && text.startsWith('null', i)) {
        values[k] = null;
        i += 4;
      } else if (c === T && text.startsWith('true', i)) {
        values[k] = true;
        i += 4;
      } else if (c === F && text.startsWith('false', i)) {
        values[k] = false;
        i += 5;
      } else {
        let end = i;
        for (let d = text.charCodeAt(end); end < text.length && d !== COMMA && d !== CLOSE; d = text.charCodeAt(++end));
        const s = text.slice(i, end);
        if (!JSON_NUMBER.test(s)) return undefined;
        values[k] = Number(s);
        i = end;
      }
      const next = text.charCodeAt(i);
      if (next !== COMMA && next !== CLOSE) return undefined;
    }
    return build(values);
  };
}

const analyticsLayout = layoutParser(ANALYTICS_FIELDS);
const analyticsBytesLayout = layoutBytesParser(ANALYTICS_FIELDS);

/** The analytics role's parse: its fields out of the gateway's layout, else the whole JSON (undefined: not JSON). */
export const parseAnalyticsEvent = (text: string): unknown => analyticsLayout(text) ?? parseValue(text);

/** `parseAnalyticsEvent` of the UTF-8 text of `buf[start, end)`, read from the bytes. */
export const parseAnalyticsBytes = (buf: Buffer, start: number, end: number): unknown => analyticsBytesLayout(buf, start, end) ?? parseValue(buf.toString('utf8', start, end));
