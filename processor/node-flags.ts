import v8 from 'node:v8';
import type { Config } from '../contracts/config.js';

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
 * The V8 flags a processor process sets on itself at start-up: `--heap-growing-percent` from
 * PROCESSOR_HEAP_GROWING_PERCENT (none at 0). Why: every role holds what it reads for seconds
 * (the archive's open chunks) to minutes (the analytics role's windows, sessions and repeat
 * horizon), so what it allocates is promoted to the old generation and dies there; with V8's own
 * growing factor the old generation filled with that garbage before a full collection, and the
 * analytics and archive roles' RSS went past 512 MB at 10,000 events/s (bench/README.md).
 * `--heap-growing-percent` is not allowed in NODE_OPTIONS, hence set from inside the process.
 */
export function heapV8Flags(config: Pick<Config, 'processorHeapGrowingPercent'>): readonly string[] {
  const percent = config.processorHeapGrowingPercent;
  return percent > 0 ? [`--heap-growing-percent=${percent}`] : [];
}

/** Called once at start-up, before the roles allocate their state: sets `heapV8Flags(config)`; returns them. */
export function setHeapV8Flags(config: Pick<Config, 'processorHeapGrowingPercent'>): readonly string[] {
  const flags = heapV8Flags(config);
  for (const f of flags) v8.setFlagsFromString(f);
  return flags;
}
