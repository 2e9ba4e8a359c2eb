import { spawnSync } from 'node:child_process';

/**
 * Has the kernel write every dirty page back now (sync(1)), before a measured phase starts.
 *
 * Why: with Linux's defaults (write-back from 10 % of memory dirty or pages 30 s old) the broker's log
 * of one phase was written back in a burst during a later one: on 4 Dec 2026 the uncompressed
 * variant left ~1 GB dirty, flushed 30 s later in the middle of another target's repetition, which
 * then got 0.98 of the gateway's cores and 57,205 events/s against 102,091 in its first repetition
 * (bench/README.md, twenty-first stop). Each phase now starts with nothing of the earlier ones left to
 * write; its own log (~9 MB/s at 100,000 events/s with lz4) reaches the kernel's 30 s expiry only after
 * a 10 s phase has ended, so it is written back between phases too.
 * Returns how long the sync took (ms).
 */
export function writeBack(): number {
  const t0 = performance.now();
  spawnSync('sync', { stdio: 'ignore' });
  return performance.now() - t0;
}
