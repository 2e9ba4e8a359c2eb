import v8 from 'node:v8';
import { ConfigError, type Config } from '../contracts/config.js';

/**
 * Node flags every processor process runs with (`npm run processor`, the demo, the benches; the
 * image's deployments set the same in NODE_OPTIONS: infra/docker-compose.yml, deploy/k8s).
 *
 * Why: a role allocates fast (parsed events, documents, bulk bodies), and on a machine with
 * gigabytes of memory Node 24 lets V8's young generation grow to 2 x 64 MB semi-spaces, which
 * stay resident: about 100 MB of every role's RSS that holds only garbage between scavenges.
 * 16 MB semi-spaces took each role's RSS down by 70-100 MB at the same CPU per event
 * (`npm run bench:processor-memory`, bench/README.md).
 */
export const PROCESSOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/**
 * PROCESSOR_HEAP_GROWING_PERCENT for a process running these roles (0: V8's own growth). Why:
 * every role holds what it reads for seconds (the archive's open chunks) to minutes (the analytics
 * role's windows, sessions and repeat horizon), so what it allocates is promoted to the old
 * generation and dies there; with V8's own growing factor the old generation filled with that
 * garbage before a full collection, and the analytics and archive roles' RSS went past 512 MB at
 * 10,000 events/s. `auto` takes what measured best for each (bench/README.md): 100 with analytics
 * (its CPU per event has a target: 50 cost it 20-30 %, 100 about 3 %), 50 for the archive without
 * it (at 100 its RSS still grew towards 500 MB after 20 minutes), none for raw indexing alone
 * (under 200 MB without).
 */
export function heapGrowingPercent(config: Pick<Config, 'processorHeapGrowingPercent'>, roles: readonly string[]): number {
  const v = config.processorHeapGrowingPercent.trim();
  if (v === 'auto') return roles.includes('analytics') ? 100 : roles.includes('archive') ? 50 : 0;
  if (!/^\d+$/.test(v)) throw new ConfigError(`PROCESSOR_HEAP_GROWING_PERCENT must be auto or a non-negative integer, got "${v}"`);
  return Number(v);
}

/** The V8 flags a process running these roles sets on itself: `--heap-growing-percent`, or none. */
export function heapV8Flags(config: Pick<Config, 'processorHeapGrowingPercent'>, roles: readonly string[]): readonly string[] {
  const percent = heapGrowingPercent(config, roles);
  return percent > 0 ? [`--heap-growing-percent=${percent}`] : [];
}

/**
 * Called once at start-up, before the roles allocate their state: sets `heapV8Flags`; returns them.
 * `--heap-growing-percent` is not allowed in NODE_OPTIONS, hence set from inside the process.
 */
export function setHeapV8Flags(config: Pick<Config, 'processorHeapGrowingPercent'>, roles: readonly string[]): readonly string[] {
  const flags = heapV8Flags(config, roles);
  for (const f of flags) v8.setFlagsFromString(f);
  return flags;
}
