/**
 * Elasticsearch snapshots of every index of one index prefix: taken by `npm run backup` and on a
 * schedule by the processor, restored by `npm run restore`. Elasticsearch's snapshot lifecycle
 * management (SLM) would schedule and prune them, but it is an x-pack feature that the local node
 * (the integration-test distribution) lacks; so, like the raw-event retention, a small job does
 * it: every ES_SNAPSHOT_INTERVAL_S it takes a snapshot named after the period, then keeps the
 * newest ES_SNAPSHOT_KEEP snapshots of the prefix. The name comes from the period, not the
 * instant, so several processor instances ask for the same snapshot and only one is taken.
 */
import type { Client } from '@elastic/elasticsearch';
import type { Logger } from 'pino';
import type { Config } from '../contracts/config.js';
import { indexNames } from '../contracts/indices.js';

export type SnapshotSettings = Pick<
  Config,
  | 'esIndexPrefix'
  | 'esSnapshotRepository'
  | 'esSnapshotType'
  | 'esSnapshotLocation'
  | 'esSnapshotS3Bucket'
  | 'esSnapshotS3BasePath'
  | 'esSnapshotS3Client'
  | 'esSnapshotKeep'
>;

/** Marks a snapshot as ours in its metadata: pruning never touches anyone else's snapshots. */
const TAKEN_BY = 'clickstream';

export class SnapshotError extends Error {}

/** A snapshot of that name exists or is being taken in the repository. */
export class SnapshotExistsError extends SnapshotError {}

/** Index patterns of everything the pipeline writes for `prefix` (raw events, KPIs, URL stats, sessions, alerts). */
export function projectIndexPatterns(prefix: string): string[] {
  return Object.values(indexNames(prefix));
}

/** Snapshot names are lowercase; one per scheduled period, or per second for a manual one. */
export function snapshotName(prefix: string, atMs: number): string {
  const iso = new Date(atMs).toISOString(); // 2026-11-22T10:00:00.000Z
  return `${prefix}-${iso.slice(0, 10).replaceAll('-', '.')}-${iso.slice(11, 19).replaceAll(':', '.')}`.toLowerCase();
}

/** Start of the scheduled period holding `nowMs` (periods are aligned on the epoch, in UTC). */
export function periodStart(nowMs: number, intervalS: number): number {
  const ms = intervalS * 1000;
  return Math.floor(nowMs / ms) * ms;
}

export interface SnapshotInfo {
  name: string;
  state: string;
  startMs: number;
  endMs: number;
  indices: string[];
  prefix: string | undefined;
}

/** Which of our snapshots to delete so that the newest `keep` successful ones remain (pure). */
export function snapshotsToPrune(snapshots: SnapshotInfo[], prefix: string, keep: number): string[] {
  if (keep <= 0) return [];
  const ours = snapshots.filter((s) => s.prefix === prefix).sort((a, b) => b.startMs - a.startMs || (a.name < b.name ? 1 : -1));
  const kept = new Set(ours.filter((s) => s.state === 'SUCCESS').slice(0, keep));
  const newestGood = ours.find((s) => kept.has(s))?.startMs ?? -Infinity;
  // Good snapshots beyond the newest `keep` go; failed or partial ones go once a newer good one
  // exists; one in progress is never touched.
  return ours
    .filter((s) => !kept.has(s) && s.state !== 'IN_PROGRESS' && (s.state === 'SUCCESS' || s.startMs < newestGood))
    .map((s) => s.name);
}

/** The repository body for ES_SNAPSHOT_TYPE, or undefined for `existing`. */
export function repositoryBody(s: SnapshotSettings): { type: string; settings: Record<string, unknown> } | undefined {
  switch (s.esSnapshotType) {
    case 'fs':
      return { type: 'fs', settings: { location: s.esSnapshotLocation, compress: true } };
    case 's3':
      if (!s.esSnapshotS3Bucket) throw new SnapshotError('ES_SNAPSHOT_TYPE=s3 needs ES_SNAPSHOT_S3_BUCKET');
      return { type: 's3', settings: { bucket: s.esSnapshotS3Bucket, base_path: s.esSnapshotS3BasePath, client: s.esSnapshotS3Client, compress: true } };
    case 'existing':
      return undefined;
    default:
      throw new SnapshotError(`ES_SNAPSHOT_TYPE must be fs, s3 or existing, got "${s.esSnapshotType}"`);
  }
}

const reason = (err: unknown): string => {
  const e = err as { meta?: { body?: { error?: { type?: string; reason?: string; caused_by?: { reason?: string } } } }; message?: string };
  const b = e.meta?.body?.error;
  return b ? `${b.type}: ${b.reason}${b.caused_by?.reason ? ` (${b.caused_by.reason})` : ''}` : String(e.message ?? err);
};

/**
 * Registers the repository unless it exists (or ES_SNAPSHOT_TYPE is `existing`, then checks it
 * exists). Registering verifies that every node can write to it, so a missing `path.repo` or S3
 * module is reported here, with what to do.
 */
export async function ensureRepository(client: Client, s: SnapshotSettings): Promise<void> {
  const name = s.esSnapshotRepository;
  const existing = await client.snapshot.getRepository({ name }).catch((err: { meta?: { statusCode?: number } }) => {
    if (err.meta?.statusCode === 404) return undefined;
    throw new SnapshotError(`reading snapshot repository "${name}" failed: ${reason(err)}`);
  });
  if (existing?.[name]) return;
  const body = repositoryBody(s);
  if (!body) throw new SnapshotError(`snapshot repository "${name}" does not exist (ES_SNAPSHOT_TYPE=existing: register it on the cluster first)`);
  try {
    await client.snapshot.createRepository({ name, repository: body as never, verify: true });
  } catch (err) {
    const hint =
      body.type === 'fs'
        ? ` (every node needs path.repo covering "${s.esSnapshotLocation}" in elasticsearch.yml; the local node started by infra has it: ES_SNAPSHOT_DIR)`
        : ' (every node needs the repository-s3 module and the S3 client credentials in its keystore)';
    throw new SnapshotError(`registering ${body.type} snapshot repository "${name}" failed: ${reason(err)}${hint}`);
  }
}

/** Every snapshot in the repository, ours marked with their index prefix. */
export async function listSnapshots(client: Client, repository: string): Promise<SnapshotInfo[]> {
  const r = await client.snapshot.get({ repository, snapshot: '_all' });
  return (r.snapshots ?? []).map((x) => {
    const meta = (x.metadata ?? {}) as { taken_by?: string; prefix?: string };
    return {
      name: x.snapshot,
      state: x.state ?? 'UNKNOWN',
      startMs: Number(x.start_time_in_millis ?? 0),
      endMs: Number(x.end_time_in_millis ?? 0),
      indices: x.indices ?? [],
      prefix: meta.taken_by === TAKEN_BY ? meta.prefix : undefined,
    };
  });
}

export interface SnapshotResult {
  snapshot: string;
  indices: string[];
  shards: { total: number; successful: number; failed: number };
  pruned: string[];
  seconds: number;
}

/**
 * Snapshots every index of the prefix under `name` (SnapshotExistsError if taken; without the cluster's global state: templates come from
 * `npm run infra:setup`), waits for it to finish, then prunes to ES_SNAPSHOT_KEEP. A partial
 * snapshot (a shard failed) is an error and prunes nothing.
 */
export async function takeSnapshot(client: Client, s: SnapshotSettings, name: string): Promise<SnapshotResult> {
  const t0 = Date.now();
  await ensureRepository(client, s);
  const prefix = s.esIndexPrefix;
  let info: { indices?: string[]; state?: string; shards?: { total: number; successful: number; failed: number } } | undefined;
  try {
    const r = await client.snapshot.create({
      repository: s.esSnapshotRepository,
      snapshot: name,
      indices: projectIndexPatterns(prefix).join(','),
      ignore_unavailable: true,
      include_global_state: false,
      wait_for_completion: true,
      metadata: { taken_by: TAKEN_BY, prefix },
    });
    info = r.snapshot;
  } catch (err) {
    const why = reason(err);
    if (/snapshot_name_already_in_use_exception|invalid_snapshot_name_exception.*(already exists|in-progress)/i.test(why)) {
      throw new SnapshotExistsError(`a snapshot named "${name}" exists or is being taken in "${s.esSnapshotRepository}"`);
    }
    throw new SnapshotError(`snapshot "${name}" in "${s.esSnapshotRepository}" failed: ${why}`);
  }
  if (info && info.state !== 'SUCCESS') {
    throw new SnapshotError(`snapshot "${name}" ended ${info.state}: ${info.shards?.failed ?? '?'} of ${info.shards?.total ?? '?'} shards failed`);
  }
  const pruned = await pruneSnapshots(client, s);
  return {
    snapshot: name,
    indices: (info?.indices ?? []).slice().sort(),
    shards: info?.shards ?? { total: 0, successful: 0, failed: 0 },
    pruned,
    seconds: (Date.now() - t0) / 1000,
  };
}

/** Deletes our snapshots beyond the newest ES_SNAPSHOT_KEEP good ones; returns their names. */
export async function pruneSnapshots(client: Client, s: SnapshotSettings): Promise<string[]> {
  const doomed = snapshotsToPrune(await listSnapshots(client, s.esSnapshotRepository), s.esIndexPrefix, s.esSnapshotKeep);
  for (const snapshot of doomed) await client.snapshot.delete({ repository: s.esSnapshotRepository, snapshot });
  return doomed;
}

export interface RestoreResult {
  snapshot: string;
  indices: string[];
  /** Indices that existed and were deleted first (`replace`). */
  replaced: string[];
  seconds: number;
}

/**
 * Restores the project indices of a snapshot (the newest successful one of the prefix by
 * default) and waits until every shard is back. Indices of the same name must not exist: the
 * restore refuses and names them, unless `replace` is set, which deletes them first.
 */
export async function restoreSnapshot(client: Client, s: SnapshotSettings, opts: { snapshot?: string; replace?: boolean } = {}): Promise<RestoreResult> {
  const t0 = Date.now();
  const repository = s.esSnapshotRepository;
  const all = await listSnapshots(client, repository).catch((err) => {
    throw new SnapshotError(`reading snapshots of repository "${repository}" failed: ${reason(err)}`);
  });
  const chosen = opts.snapshot
    ? all.find((x) => x.name === opts.snapshot)
    : all.filter((x) => x.prefix === s.esIndexPrefix && x.state === 'SUCCESS').sort((a, b) => b.startMs - a.startMs)[0];
  if (!chosen) {
    throw new SnapshotError(
      opts.snapshot
        ? `no snapshot "${opts.snapshot}" in repository "${repository}" (npm run restore -- --list shows them)`
        : `no successful snapshot of prefix "${s.esIndexPrefix}" in repository "${repository}"`,
    );
  }
  if (chosen.state !== 'SUCCESS') throw new SnapshotError(`snapshot "${chosen.name}" is ${chosen.state}, not restorable as a whole`);
  const indices = chosen.indices.filter((i) => matchesAny(i, projectIndexPatterns(s.esIndexPrefix))).sort();
  if (indices.length === 0) throw new SnapshotError(`snapshot "${chosen.name}" holds no index of prefix "${s.esIndexPrefix}"`);
  const present = (await client.indices.get({ index: indices.join(','), ignore_unavailable: true, allow_no_indices: true, expand_wildcards: ['open', 'closed'] }).then(Object.keys)).sort();
  if (present.length && !opts.replace) {
    throw new SnapshotError(`these indices exist and would be overwritten: ${present.join(', ')} (run with --replace to delete them and restore)`);
  }
  for (const index of present) await client.indices.delete({ index });
  try {
    await client.snapshot.restore({
      repository,
      snapshot: chosen.name,
      indices: indices.join(','),
      include_global_state: false,
      wait_for_completion: true,
    });
  } catch (err) {
    throw new SnapshotError(`restoring snapshot "${chosen.name}" failed: ${reason(err)}`);
  }
  await client.cluster.health({ index: indices.join(','), wait_for_status: 'yellow', timeout: '60s' });
  return { snapshot: chosen.name, indices, replaced: present, seconds: (Date.now() - t0) / 1000 };
}

function matchesAny(index: string, patterns: string[]): boolean {
  return patterns.some((p) => (p.endsWith('*') ? index.startsWith(p.slice(0, -1)) : index === p));
}

export interface ScheduleOptions {
  /** ES_SNAPSHOT_INTERVAL_S; 0 disables the job. */
  intervalS: number;
  log: Logger;
  /** Called once per period when its snapshot exists: taken by this instance (`taken`) or by another. */
  onSuccess?: (snapshot: string, taken: boolean) => void;
  /** Called after each failed attempt (tried again at the next check). */
  onFailure?: (err: Error) => void;
  /** How often the job checks whether the period's snapshot exists (default a minute). */
  checkEveryMs?: number;
  now?: () => number;
}

/**
 * The scheduled snapshot: a minute after start and then every minute it looks for the current period's
 * snapshot and takes it if there is none (a restart in the middle of a period does not take a
 * second one; a processor that crash-loops or runs for a moment does not snapshot at every start).
 * One in progress (another instance's) is waited for; a failed or partial one is
 * deleted and taken again. Failures are logged and tried again at the next check. Returns a stop
 * function.
 */
export function startScheduledSnapshots(client: Client, s: SnapshotSettings, o: ScheduleOptions): () => void {
  if (o.intervalS <= 0) return () => undefined;
  const now = o.now ?? Date.now;
  let done = '';
  let busy = false;
  let warned = '';
  const run = async () => {
    if (busy) return;
    const name = snapshotName(s.esIndexPrefix, periodStart(now(), o.intervalS));
    if (name === done) return;
    busy = true;
    try {
      await ensureRepository(client, s);
      const existing = await client.snapshot
        .get({ repository: s.esSnapshotRepository, snapshot: name, ignore_unavailable: true })
        .then((r) => r.snapshots?.[0]);
      let taken = false;
      if (existing?.state === 'IN_PROGRESS') return;
      if (existing && existing.state !== 'SUCCESS') await client.snapshot.delete({ repository: s.esSnapshotRepository, snapshot: name });
      if (existing?.state !== 'SUCCESS') {
        try {
          const r = await takeSnapshot(client, s, name);
          o.log.info({ snapshot: r.snapshot, indices: r.indices.length, pruned: r.pruned, seconds: r.seconds }, 'snapshot taken');
          taken = true;
        } catch (err) {
          // Another instance started it a moment ago: the next check sees how it ended.
          if (err instanceof SnapshotExistsError) return;
          throw err;
        }
      }
      done = name;
      warned = '';
      o.onSuccess?.(name, taken);
    } catch (err) {
      o.onFailure?.(err as Error);
      const msg = (err as Error).message;
      // The same failure every minute would drown the log: once until something changes.
      if (msg !== warned) o.log.warn({ err: msg }, 'scheduled snapshot failed; will try again');
      warned = msg;
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(run, o.checkEveryMs ?? Math.min(60_000, o.intervalS * 1000));
  timer.unref();
  return () => clearInterval(timer);
}
