import type { Client } from '@elastic/elasticsearch';

/** How a create of an index that is already there fails: not a failure here. */
const alreadyThere = (err: unknown) => (err as { body?: { error?: { type?: string } } }).body?.error?.type === 'resource_already_exists_exception';

/**
 * Creates the indices a role is about to write, if missing, from their templates (as the first
 * bulk would): a role that writes into an index not yet there has its first bulk wait for the
 * index to be created and its shard started, a cluster-state update that took seconds on a busy
 * node, and with it the first KPI documents after a start. Runs beside the consumer's start, never
 * holding it: a failure is only logged, and the first bulk creates the index as before.
 */
export async function createIndices(es: Client, indices: readonly string[], warn: (msg: string) => void): Promise<void> {
  await Promise.all(
    indices.map(async (index) => {
      try {
        await es.indices.create({ index }, { maxRetries: 0 });
      } catch (err) {
        if (!alreadyThere(err)) warn(`${index}: ${(err as Error).message}`);
      }
    }),
  );
}
