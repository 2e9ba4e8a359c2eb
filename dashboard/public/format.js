/* global URL */
/** Numbers, times and URLs as the dashboard shows them ('–' for a missing value). */

const intFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const moneyFmt = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export const fmtInt = (n) => (n === null || n === undefined ? '–' : intFmt.format(n));
export const fmtMoney = (n) => (n === null || n === undefined ? '–' : moneyFmt.format(n));
export const fmtPct = (r) => (r === null || r === undefined ? '–' : `${(r * 100).toFixed(r < 0.1 ? 2 : 1)} %`);
export const fmtMs = (ms) => {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
};
export const fmtTime = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
export const fmtDateTime = (t) => new Date(t).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
/** Time of day for today, date and time otherwise. */
export const fmtWhen = (t) =>
  new Date(t).toDateString() === new Date().toDateString() ? new Date(t).toLocaleTimeString([], { hourCycle: 'h23' }) : fmtDateTime(t);
export const shortUrl = (u) => {
  try {
    const x = new URL(u);
    return x.host + x.pathname + x.search + x.hash;
  } catch {
    return String(u);
  }
};
