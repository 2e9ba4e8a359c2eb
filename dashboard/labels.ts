/** Human names for the internal window kinds the API takes (`tumbling_1m` -> "per minute"). Pure. */

const UNITS: Record<string, [string, string]> = { s: ['second', 'seconds'], m: ['minute', 'minutes'], h: ['hour', 'hours'], ms: ['millisecond', 'milliseconds'] };

function spanWords(span: string, alone: boolean): string {
  const m = /^(\d+)(ms|s|m|h)$/.exec(span);
  if (!m) return span;
  const n = Number(m[1]);
  const [one, many] = UNITS[m[2]];
  if (n === 1) return alone ? one : `1 ${one}`;
  return `${n} ${many}`;
}

/** `tumbling_1m` -> "per minute", `tumbling_5m` -> "per 5 minutes", `sliding_5m_1m` -> "5-minute totals, every minute". */
export function windowLabel(kind: string): string {
  const t = /^tumbling_(\w+)$/.exec(kind);
  if (t) return `per ${spanWords(t[1], true)}`;
  const s = /^sliding_([0-9a-z]+)_([0-9a-z]+)$/.exec(kind);
  if (s) {
    const size = spanWords(s[1], false).replace(/^(\d+) (\w+?)s?$/, '$1-$2');
    return `${size} totals, every ${spanWords(s[2], true)}`;
  }
  return kind;
}
