/* global URL */
/** Numbers, money, times and URLs as the dashboard shows them ('–' for a missing value). One 24-hour clock. */

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const moneyFmt = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export const fmtInt = (n) => (n === null || n === undefined ? '–' : intFmt.format(n));
export const fmtMoney = (n) => (n === null || n === undefined ? '–' : moneyFmt.format(n));
/** An amount with its currency code; the currency's own number of decimals (JPY 0, EUR 2). */
export const fmtCurrency = (n, currency) => {
  if (n === null || n === undefined) return '–';
  if (!currency) return `${moneyFmt.format(n)} (no currency)`;
  try {
    const f = new Intl.NumberFormat('en-US', { style: 'currency', currency, currencyDisplay: 'code' });
    return f.format(n).replace(/\u00a0/g, ' ');
  } catch {
    return `${moneyFmt.format(n)} ${currency}`;
  }
};
export const fmtPct = (r) => (r === null || r === undefined ? '–' : `${(r * 100).toFixed(r < 0.1 ? 2 : 1)} %`);
export const fmtMs = (ms) => {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
};
const two = (n) => String(n).padStart(2, '0');
/** 14:05 (local time, 24-hour clock whatever the browser's locale). */
export const fmtTime = (t) => {
  const d = new Date(t);
  return `${two(d.getHours())}:${two(d.getMinutes())}`;
};
/** 14:05:09 */
export const fmtClock = (t) => `${fmtTime(t)}:${two(new Date(t).getSeconds())}`;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export const fmtDateTime = (t) => {
  const d = new Date(t);
  return `${d.getDate()} ${MONTHS[d.getMonth()]} ${fmtClock(t)}`;
};
/** Time of day for today, date and time otherwise. */
export const fmtWhen = (t) => (new Date(t).toDateString() === new Date().toDateString() ? fmtClock(t) : fmtDateTime(t));
export const shortUrl = (u) => {
  try {
    const x = new URL(u);
    return x.host + x.pathname + x.search + x.hash;
  } catch {
    return String(u);
  }
};
