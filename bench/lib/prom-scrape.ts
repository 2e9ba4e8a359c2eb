/**
 * Counters from a Prometheus text exposition (the gateway's /metrics), e.g. shed requests by
 * reason: scraped before and after a bench phase, the difference is the phase's (histograms:
 * histograms.ts).
 */

/** Sum of every sample of `name` whose labels contain all of `labels` (e.g. `reason="loop_lag"`). */
export function promSum(text: string, name: string, labels: string[] = []): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (!labels.every((l) => rest.includes(l))) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}
