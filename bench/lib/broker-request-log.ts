/**
 * The broker's own account of each produce request, from its request log (kafka.request.logger at
 * DEBUG: one "Completed request" line per request with its times): whether a slow Kafka send seen
 * by the gateway was slow inside the broker (queued for an I/O thread, appending, queued for the
 * network thread, sending the answer) or before the broker had read it and after it had sent it
 * (neither counted in the broker's total: the client's queue, the sockets, the threads waiting for a core).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { percentile } from './stats.js';

/** The log4j line that turns the request log on (infra/kafka.ts KafkaTuning.log4j). */
export const REQUEST_LOG_LOG4J = 'log4j.logger.kafka.request.logger=DEBUG';

const PARTS = ['requestQueueTimeMs', 'localTimeMs', 'responseQueueTimeMs', 'sendTimeMs'] as const;
/** Each part's pattern, made once: a run's log has tens of thousands of produce requests. */
const PART_RE = PARTS.map((p) => [p, new RegExp(`"${p}":([0-9.]+)`)] as const);
const TOTAL_RE = /"totalTimeMs":([0-9.]+)/;

/** The produce requests the broker completed in one window of wall-clock time. */
export interface BrokerWindow {
  requests: number;
  /** Over `slowMs` in the broker's total (read in full -> answer written). */
  slow: number;
  totalP99: number;
  totalMax: number;
  /** The longest of each part over the window (ms). */
  max: Record<(typeof PARTS)[number], number>;
}

/** `[2026-12-04 13:04:09,705]` (log4j's default date, the machine's local time) in ms since the epoch. */
export function logTime(line: string): number {
  const m = /^\[(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d),(\d{3})\]/.exec(line);
  return m ? new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]).getTime() : NaN;
}

/** Reads `file` once and sums its produce requests into each of `windows` ([from, to) in ms since the epoch). */
export async function brokerProduceWindows(file: string, windows: { from: number; to: number }[], slowMs = 25): Promise<BrokerWindow[]> {
  const totals = windows.map(() => [] as number[]);
  const max = windows.map(() => Object.fromEntries(PARTS.map((p) => [p, 0])) as BrokerWindow['max']);
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.includes('"requestApiKeyName":"PRODUCE"')) continue;
    const t = logTime(line);
    const w = windows.findIndex((x) => t >= x.from && t < x.to);
    if (w < 0) continue;
    totals[w].push(Number(TOTAL_RE.exec(line)?.[1]));
    for (const [p, re] of PART_RE) max[w][p] = Math.max(max[w][p], Number(re.exec(line)?.[1] ?? 0));
  }
  return totals.map((xs, i) => ({
    requests: xs.length,
    slow: xs.filter((x) => x > slowMs).length,
    totalP99: percentile(xs, 99),
    totalMax: xs.reduce((a, b) => Math.max(a, b), 0),
    max: max[i],
  }));
}

/** One line of a window's figures. */
export function brokerWindowLine(w: BrokerWindow, slowMs = 25): string {
  const f = (x: number) => x.toFixed(1);
  return `broker (its request log): ${w.requests} produce requests, ${w.slow} over ${slowMs} ms, total p99 ${f(w.totalP99)} ms max ${f(w.totalMax)} ms; longest request queue ${f(w.max.requestQueueTimeMs)} / append ${f(w.max.localTimeMs)} / response queue ${f(w.max.responseQueueTimeMs)} / send ${f(w.max.sendTimeMs)} ms`;
}
