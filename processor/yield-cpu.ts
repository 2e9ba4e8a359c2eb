import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import type { Config } from '../contracts/config.js';

/**
 * PROCESSOR_BACKGROUND_NICE: a processor process without the analytics role (raw indexing and
 * the archive, which may lag) lowers its CPU priority, so that on a shared machine the KPIs
 * (which may not lag), the gateway, Kafka and Elasticsearch get the CPU first. Every thread of the
 * process is lowered (Linux gives each thread its own niceness, and V8's and libuv's threads exist
 * already), else the calling one; never raised (that needs privileges). Called once at start-up;
 * returns the niceness set, or null when nothing was changed.
 */
export function yieldCpu(config: Pick<Config, 'processorBackgroundNice'>, roles: readonly string[], log: { warn(o: object, msg: string): void }): number | null {
  const nice = Math.min(19, Math.max(0, config.processorBackgroundNice));
  if (nice === 0 || roles.length === 0 || roles.includes('analytics')) return null;
  let threads: number[] = [0];
  try {
    threads = readdirSync('/proc/self/task').map(Number).filter((t) => Number.isInteger(t) && t > 0);
  } catch {
    // Not Linux: the calling thread only.
  }
  try {
    for (const t of threads) if (getPriority(t) < nice) setPriority(t, nice);
  } catch (err) {
    log.warn({ err: (err as Error).message, nice }, 'PROCESSOR_BACKGROUND_NICE: could not lower the priority');
    return null;
  }
  return nice;
}
