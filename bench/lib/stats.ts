/** Small statistics and formatting helpers shared by the benchmarks. */

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(s.length, rank) - 1];
}

export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n));
export const ms = (n: number, digits = 1) => (Number.isFinite(n) ? `${n.toFixed(digits)} ms` : String(n));
export const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : String(x));
export const secs = (n: number, digits = 1) => `${n.toFixed(digits)} s`;

/** A fixed-width text table (first column left-aligned, the others right-aligned). */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/**
 * How busy the machine is, printed beside every figure because these machines are shared: the
 * 1-minute load average and the share of the last 10 s in which some runnable task waited for a
 * CPU (Linux pressure stall information), e.g. "1.9 / 12%".
 */
export async function loadAverage(): Promise<string> {
  const { readFileSync } = await import('node:fs');
  let load = '?';
  let psi = '?';
  try {
    load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  } catch {}
  try {
    const m = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    if (m) psi = `${Math.round(Number(m[1]))}%`;
  } catch {}
  return `${load} / ${psi}`;
}
