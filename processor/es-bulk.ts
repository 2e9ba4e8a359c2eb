import type { Client } from '@elastic/elasticsearch';

export interface Target {
  index: string;
  id: string;
  /**
   * Written with this external version (`external_gte`): Elasticsearch keeps the stored document
   * when its version is higher, and the write counts as done (see `onStale`). Unset: overwrite.
   */
  version?: number;
}

export interface BulkOptions {
  /** The bulk's `refresh` parameter: `true` makes the documents visible to searches when it returns. */
  refresh?: BulkRefresh;
  /** Called once per bulk with how many versioned writes found a newer document stored (kept as it was). */
  onStale?: (count: number) => void;
}

export interface Rejected<T> {
  /** The item of `docs` it came from (not the body sent: that may be JSON text). */
  doc: T;
  index: string;
  id: string;
  status: number;
  reason: string;
}

/** A bulk request's `refresh` parameter. */
export type BulkRefresh = boolean | 'wait_for';

/** Thrown when Elasticsearch could not take a batch for a reason that may pass (down, 429, 5xx). */
export class RetryableBulkError extends Error {}

const retryable = (status: number) => status === 0 || status === 408 || status === 429 || status >= 500;

/**
 * Indexes `docs` with the official bulk helper, each under a deterministic id so that writing
 * the same batch twice leaves the same documents. Resolves with the documents Elasticsearch
 * refused for good (mapping errors and the like); rejects with RetryableBulkError when any
 * document could not be written for a reason that may pass, so the caller retries the batch.
 * A versioned write refused because the stored version is higher is neither: what it would have
 * written is older than what is stored.
 */
export async function bulkIndex<T extends object>(
  client: Client,
  docs: T[],
  target: (doc: T) => Target,
  /** The document body to index (an object, or JSON text sent as is), when it is not `doc` itself. */
  body?: (doc: T) => object | string,
  { refresh, onStale }: BulkOptions = {},
): Promise<Rejected<T>[]> {
  if (docs.length === 0) return [];
  const rejected: Rejected<T>[] = [];
  let transient = 0;
  let stale = 0;
  // The helper reports a refusal with the body it sent: the item is found again by its target.
  const byTarget = new Map<string, T[]>();
  try {
    await client.helpers.bulk<T>({
      datasource: docs,
      onDocument: (doc) => {
        const t = target(doc);
        const k = `${t.index}\u0000${t.id}`;
        const same = byTarget.get(k);
        if (same) same.push(doc);
        else byTarget.set(k, [doc]);
        const action =
          t.version === undefined ? { index: { _index: t.index, _id: t.id } } : { index: { _index: t.index, _id: t.id, version: t.version, version_type: 'external_gte' as const } };
        return body ? [action, body(doc)] : action;
      },
      // Only what tells success from failure comes back: parsing a 2,000-item response costs.
      filter_path: 'errors,items.*.error,items.*.status',
      ...(refresh !== undefined && refresh !== false ? { refresh } : {}),
      flushBytes: 5_000_000,
      concurrency: 2,
      retries: 3,
      wait: 200,
      onDrop: (drop) => {
        if (retryable(drop.status)) transient++;
        else if (drop.status === 409 && drop.error?.type === 'version_conflict_engine_exception') stale++;
        else {
          const op = (drop.operation as { index?: { _index?: string; _id?: string } }).index ?? {};
          const index = op._index ?? '';
          const id = op._id ?? '';
          const doc = byTarget.get(`${index}\u0000${id}`)?.shift();
          if (doc === undefined) throw new Error(`bulk: refused document ${index}/${id} is not one of the batch`);
          rejected.push({ doc, index, id, status: drop.status, reason: drop.error ? `${drop.error.type}: ${drop.error.reason}` : 'rejected' });
        }
      },
    });
  } catch (err) {
    throw new RetryableBulkError(`bulk request failed: ${(err as Error).message}`);
  }
  if (transient > 0) throw new RetryableBulkError(`${transient} documents not written (Elasticsearch busy or unavailable)`);
  if (stale > 0) onStale?.(stale);
  return rejected;
}
