import type { Client } from '@elastic/elasticsearch';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { eventIndexFor } from '../../contracts/indices.js';
import { bulkIndex } from '../es-bulk.js';
import type { Sink } from '../sink.js';

/**
 * Raw enriched events into the daily event index, `_id` = event id: a replay overwrites
 * the same documents, so a crash between bulk and commit doubles nothing.
 */
export function esEventsSink(
  client: Client,
  indexPrefix: string,
  onReject: (doc: EnrichedEvent, reason: string) => void,
  onBulk?: (seconds: number, count: number) => void,
): Sink {
  let buffer: EnrichedEvent[] = [];
  return {
    name: 'es-events',
    add(event) {
      buffer.push(event);
    },
    async flush() {
      if (buffer.length === 0) return;
      const started = performance.now();
      const rejected = await bulkIndex(client, buffer, (e) => ({ index: eventIndexFor(indexPrefix, e.timestamp), id: e.event_id }));
      onBulk?.((performance.now() - started) / 1000, buffer.length);
      for (const r of rejected) onReject(r.doc, `elasticsearch refused the event (${r.status}): ${r.reason}`);
      buffer = [];
    },
  };
}
