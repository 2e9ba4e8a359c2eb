import type { Client } from '@elastic/elasticsearch';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { eventDocId, eventIndexFor } from '../../contracts/indices.js';

/**
 * Elasticsearch's limit for raw events: a plain loop of bulk requests of `batch` documents,
 * `concurrency` requests in flight, the official client, the same indices and ids as the
 * processor's index role. Documents/s, checked by a count at the end.
 */
export async function bulkLoop(es: Client, prefix: string, docs: EnrichedEvent[], batch: number, concurrency: number): Promise<number> {
  const t0 = performance.now();
  let nextBatch = 0;
  const worker = async () => {
    for (;;) {
      const i = nextBatch;
      nextBatch += batch;
      if (i >= docs.length) return;
      // The processor sends each record's JSON text as read from Kafka; so does the loop.
      const lines: string[] = [];
      for (const d of docs.slice(i, i + batch)) lines.push(JSON.stringify({ index: { _index: eventIndexFor(prefix, d.received_at), _id: eventDocId(d) } }), JSON.stringify(d));
      const res = await es.bulk({ body: `${lines.join('\n')}\n`, filter_path: 'errors,items.*.error' } as Parameters<Client['bulk']>[0]);
      if (res.errors) {
        const bad = res.items.find((it) => it.index?.error);
        throw new Error(`bulk loop: Elasticsearch refused documents: ${JSON.stringify(bad?.index?.error)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  await es.indices.refresh({ index: `${prefix}-events-*` });
  const { count } = await es.count({ index: `${prefix}-events-*` });
  if (count !== docs.length) throw new Error(`bulk loop: ${count} documents in Elasticsearch, ${docs.length} written`);
  return docs.length / seconds;
}
