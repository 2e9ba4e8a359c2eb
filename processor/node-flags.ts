import v8 from 'node:v8';

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
 * V8 flags a processor process running the archive role without the analytics role sets on itself
 * at start-up (the archive may lag, like PROCESSOR_BACKGROUND_NICE says). Why: the archive holds each
 * event for seconds (its open chunks), so every event is promoted to the old generation and dies
 * there; with V8's own heap growing factor (up to 4x the live heap on a machine with gigabytes)
 * the old generation filled with that garbage up to 280-380 MB before a full collection, and the
 * archive role's RSS stayed at 520-550 MB. Growing the heap by at most 50 % of what a full
 * collection left alive keeps it at 300-330 MB at the same CPU per event within this machine's
 * noise (`npm run bench:archive-memory`, bench/README.md). Not for analytics, whose live heap is
 * larger (more full collections, each longer) and whose CPU per event has a target; not for the
 * index role alone, not measured with it (its RSS stayed below 400 MB without).
 * `--heap-growing-percent` is not allowed in NODE_OPTIONS, hence set from inside the process.
 */
export const BACKGROUND_V8_FLAGS: readonly string[] = ['--heap-growing-percent=50'];

/** The V8 flags a process running these roles sets on itself: BACKGROUND_V8_FLAGS with the archive and without analytics. */
export function backgroundV8Flags(roles: readonly string[]): readonly string[] {
  return roles.includes('archive') && !roles.includes('analytics') ? BACKGROUND_V8_FLAGS : [];
}

/** Called once at start-up with the process's roles: sets `backgroundV8Flags(roles)`; returns them. */
export function setBackgroundV8Flags(roles: readonly string[]): readonly string[] {
  const flags = backgroundV8Flags(roles);
  for (const f of flags) v8.setFlagsFromString(f);
  return flags;
}
