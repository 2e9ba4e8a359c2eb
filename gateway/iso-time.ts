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
 * The date parts of the last two days seen: an event's client time and its corrected time may fall
 * on different days (a client clock days off), and then they alternate on every event, so a hit on
 * either costs nothing (no reordering, no array) and a miss replaces the one used less recently.
 */
let dayA = NaN;
let prefixA = '';
let dayB = NaN;
let prefixB = '';
/** Whether B was used more recently than A. */
let bLast = false;

function datePart(day: number): string {
  if (day === dayA) {
    bLast = false;
    return prefixA;
  }
  if (day === dayB) {
    bLast = true;
    return prefixB;
  }
  const full = new Date(day * DAY_MS).toISOString();
  // "HH:MM:SS.mmmZ" is the last 13 characters whatever the year's format (±YYYYYY included).
  const prefix = full.slice(0, full.length - 13);
  if (bLast) {
    dayA = day;
    prefixA = prefix;
    bLast = false;
  } else {
    dayB = day;
    prefixB = prefix;
    bLast = true;
  }
  return prefix;
}

/**
 * The text up to the milliseconds ("2026-12-01T10:20:30.") of the last two seconds written: a
 * batch's events fall in a few seconds, and its two streams of times (client and corrected) each
 * stay in one second for several events, so most calls only add the milliseconds (the date part
 * and the time-of-day arithmetic per call were 4 % of the gateway's own work, profile of 2 Dec 2026).
 */
let secA = NaN;
let headA = '';
let secB = NaN;
let headB = '';
let headBLast = false;

function secondHead(sec: number): string {
  const day = Math.floor(sec / 86_400);
  let t = sec - day * 86_400;
  const s = t % 60;
  t = (t - s) / 60;
  const m = t % 60;
  const h = (t - m) / 60;
  return `${datePart(day)}${TWO[h]}:${TWO[m]}:${TWO[s]}.`;
}

/** The same string as new Date(ms).toISOString() for every integer ms a Date holds (throws RangeError outside, like it). */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms > 8.64e15 || ms < -8.64e15) return new Date(ms).toISOString();
  const sec = Math.floor(ms / 1000);
  const milli = THREE[ms - sec * 1000];
  if (sec === secA) {
    headBLast = false;
    return `${headA}${milli}Z`;
  }
  if (sec === secB) {
    headBLast = true;
    return `${headB}${milli}Z`;
  }
  const head = secondHead(sec);
  if (headBLast) {
    secA = sec;
    headA = head;
    headBLast = false;
  } else {
    secB = sec;
    headB = head;
    headBLast = true;
  }
  return `${head}${milli}Z`;
}
