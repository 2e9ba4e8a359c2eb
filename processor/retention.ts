/**
 * Retention of the raw-event indices. Elasticsearch's ILM would do this, but ILM is an x-pack
 * feature and the Elasticsearch this project runs on loopback (the integration-test
 * distribution fetched from Maven Central) has no x-pack; so the processor runs this small job
 * instead: every ES_RETENTION_INTERVAL_S it deletes the daily indices
 * `<prefix>-events-YYYY.MM.DD` whose whole day is older than ES_EVENTS_RETENTION_DAYS.
 * Deleting by full index name (never a wildcard) is safe to run from every instance at once.
 * On a cluster with ILM, an ILM delete phase on the `<prefix>-events` template does the same.
 */
import type { Client } from '@elastic/elasticsearch';
import type { Logger } from 'pino';

const DAY = 86_400_000;

/** The daily event indices among `indices` that are past retention at `now` (pure). */
export function expiredEventIndices(indices: string[], prefix: string, retentionDays: number, now: number): string[] {
  if (retentionDays <= 0) return [];
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-events-(\\d{4})\\.(\\d{2})\\.(\\d{2})$`);
  const out: string[] = [];
  for (const name of indices) {
    const m = re.exec(name);
    if (!m) continue;
    const dayStart = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    if (!Number.isFinite(dayStart)) continue;
    // Kept while any moment of that day is within the retention period.
    if (dayStart + DAY <= now - retentionDays * DAY) out.push(name);
  }
  return out.sort();
}

export async function deleteExpiredEventIndices(client: Client, prefix: string, retentionDays: number, now = Date.now()): Promise<string[]> {
  if (retentionDays <= 0) return [];
  const rows = (await client.cat.indices({ index: `${prefix}-events-*`, format: 'json', h: 'index', expand_wildcards: ['open', 'closed'] })) as { index?: string }[];
  const expired = expiredEventIndices(
    rows.map((r) => r.index ?? '').filter(Boolean),
    prefix,
    retentionDays,
    now,
  );
  for (const index of expired) await client.indices.delete({ index, ignore_unavailable: true });
  return expired;
}

/** Runs the job now and then every `intervalS`; returns a stop function. */
export function startRetention(client: Client, prefix: string, retentionDays: number, intervalS: number, log: Logger, onDeleted?: (n: number) => void): () => void {
  if (retentionDays <= 0 || intervalS <= 0) return () => undefined;
  const run = async () => {
    try {
      const deleted = await deleteExpiredEventIndices(client, prefix, retentionDays);
      if (deleted.length) {
        log.info({ deleted, retentionDays }, 'deleted raw-event indices past retention');
        onDeleted?.(deleted.length);
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'retention job failed; will try again');
    }
  };
  void run();
  const timer = setInterval(run, intervalS * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
