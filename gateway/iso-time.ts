/**
 * `new Date(ms).toISOString()`, without a Date per call: the enriched event carries two such
 * strings and toISOString was the largest single cost of enrichment (13 % of the gateway's own
 * work in a profile of 1 Dec 2026). Events of a batch fall on few days, so the date part
 * ("2026-12-01T") is cached for the last two days seen, and the text up to the milliseconds for the
 * last two seconds.
 */
const DAY_MS = 86_400_000;
const TWO = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : String(i)));
const THREE = Array.from({ length: 1000 }, (_, i) => (i < 10 ? `00${i}` : i < 100 ? `0${i}` : String(i)));

/**
 * `make` with its last two answers kept: a hit on either costs nothing (no reordering, no array)
 * and a miss replaces the one used less recently. Two, because an event's client time and its
 * corrected time may fall on different days or seconds (a client clock off), and then they
 * alternate on every event.
 */
function lastTwo(make: (key: number) => string): (key: number) => string {
  let keyA = NaN;
  let textA = '';
  let keyB = NaN;
  let textB = '';
  /** Whether B was used more recently than A. */
  let bLast = false;
  return (key) => {
    if (key === keyA) {
      bLast = false;
      return textA;
    }
    if (key === keyB) {
      bLast = true;
      return textB;
    }
    const text = make(key);
    if (bLast) {
      keyA = key;
      textA = text;
      bLast = false;
    } else {
      keyB = key;
      textB = text;
      bLast = true;
    }
    return text;
  };
}

/** "2026-12-01T" of a day since the epoch. */
const datePart = lastTwo((day) => {
  const full = new Date(day * DAY_MS).toISOString();
  // "HH:MM:SS.mmmZ" is the last 13 characters whatever the year's format (±YYYYYY included).
  return full.slice(0, full.length - 13);
});

/**
 * "2026-12-01T10:20:30." of a second since the epoch: a batch's events fall in a few seconds, and
 * its two streams of times (client and corrected) each stay in one second for several events, so
 * most calls only add the milliseconds (the date part and the time-of-day arithmetic per call
 * were 4 % of the gateway's own work, profile of 2 Dec 2026).
 */
const secondHead = lastTwo((sec) => {
  const day = Math.floor(sec / 86_400);
  let t = sec - day * 86_400;
  const s = t % 60;
  t = (t - s) / 60;
  const m = t % 60;
  const h = (t - m) / 60;
  return `${datePart(day)}${TWO[h]}:${TWO[m]}:${TWO[s]}.`;
});

/** The same string as new Date(ms).toISOString() for every integer ms a Date holds (throws RangeError outside, like it). */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms > 8.64e15 || ms < -8.64e15) return new Date(ms).toISOString();
  const sec = Math.floor(ms / 1000);
  return `${secondHead(sec)}${THREE[ms - sec * 1000]}Z`;
}
