import type { Client } from '@elastic/elasticsearch';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { topicPartitionKey } from '../../common/topic-partition.js';
import { eventDocId, eventIndexFor } from '../../contracts/indices.js';
import { bulkIndex } from '../es-bulk.js';
import type { PartitionedSink, SourcePosition } from '../sink.js';

/** What the sink knows of an event Elasticsearch refused, for its dead letter. */
export interface RefusedEvent {
  event: EnrichedEvent;
  /** The Kafka record's value as read, when the consumer had it. */
  raw: string | undefined;
  position: SourcePosition;
  reason: string;
}


/**
 * Raw enriched events into the daily event index, `_id` = event id: a replay overwrites
 * the same documents, so a crash between bulk and commit doubles nothing.
 *
 * Other sinks hold commits back (open sessions: 30 minutes and more), so a restart replays
 * events this sink already indexed; its checkpoint records the offset indexed up to, and it
 * skips the replayed events below it instead of indexing them again.
 */
export function esEventsSink(
  client: Client,
  indexPrefix: string,
  /** Called for each event Elasticsearch refused for good (never retried), during `flush`. */
  onReject: (refused: RefusedEvent) => void,
  onBulk?: (seconds: number, count: number) => void,
  /** Called in `flush` before each bulk, with its first event's receive time (epoch ms): may hold the bulk (index-yield.ts). */
  beforeBulk?: (oldestReceivedAt: number) => Promise<unknown>,
): PartitionedSink {
  /** The event, and its JSON as read from Kafka when there (indexed as is: no re-serialising). */
  let buffer: { event: EnrichedEvent; raw?: string; position: SourcePosition }[] = [];
  /** Per topic-partition: next offset after the last event added. */
  const added = new Map<string, bigint>();
  /** Per topic-partition: everything below is indexed (as of the last successful flush). */
  const indexed = new Map<string, bigint>();
  const skipBelow = new Map<string, bigint>();
  return {
    name: 'es-events',
    assign(parts) {
      for (const p of parts) {
        const k = topicPartitionKey(p.topic, p.partition);
        added.delete(k);
        indexed.delete(k);
        if (p.checkpoint && /^\d+$/.test(p.checkpoint)) skipBelow.set(k, BigInt(p.checkpoint));
        else skipBelow.delete(k);
      }
    },
    add(event, pos) {
      const k = topicPartitionKey(pos.topic, pos.partition);
      const off = BigInt(pos.offset);
      added.set(k, off + 1n);
      const skip = skipBelow.get(k);
      if (skip !== undefined && off < skip) return;
      buffer.push({ event, raw: pos.raw, position: { topic: pos.topic, partition: pos.partition, offset: pos.offset } });
    },
    async flush() {
      // Taken at once: events added while the bulk runs go to the next flush.
      const docs = buffer;
      buffer = [];
      const upTo = new Map(added);
      if (docs.length) {
        // The buffer is in consumption order, so its first event is about the oldest.
        if (beforeBulk) await beforeBulk(Date.parse(docs[0].event.received_at));
        const started = performance.now();
        let rejected;
        try {
          rejected = await bulkIndex(
            client,
            docs,
            (d) => ({ index: eventIndexFor(indexPrefix, d.event.received_at), id: eventDocId(d.event) }),
            // A bulk body is one document per line: only single-line JSON is sent as is.
            (d) => (d.raw && !d.raw.includes('\n') ? d.raw : d.event),
          );
        } catch (err) {
          buffer = docs.concat(buffer);
          throw err;
        }
        onBulk?.((performance.now() - started) / 1000, docs.length);
        for (const r of rejected) {
          onReject({ event: r.doc.event, raw: r.doc.raw, position: r.doc.position, reason: `elasticsearch refused the event for ${r.index} (${r.status}): ${r.reason}` });
        }
      }
      for (const [k, v] of upTo) if ((indexed.get(k) ?? -1n) < v) indexed.set(k, v);
    },
    committableOffset() {
      // Never holds the commit back: after `flush` everything added is indexed.
      return undefined;
    },
    checkpoint(topic, partition) {
      const k = topicPartitionKey(topic, partition);
      const a = indexed.get(k);
      const s = skipBelow.get(k);
      const upTo = a === undefined ? s : s === undefined || a > s ? a : s;
      return upTo === undefined ? undefined : upTo.toString();
    },
    committed() {},
    revoke(topic, partition) {
      const k = topicPartitionKey(topic, partition);
      added.delete(k);
      indexed.delete(k);
      skipBelow.delete(k);
      // Buffered events of the partition are still written at the next flush: harmless, the
      // documents are keyed by event id.
    },
  };
}
