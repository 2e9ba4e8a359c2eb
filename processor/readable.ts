import type { EnrichedEvent } from '../contracts/event-schema.js';
import type { InputRecord } from './consumer-port.js';
import type { ProcessorDeadLetter } from './dead-letters.js';
import type { TopicPartition } from './sink.js';
import { eventTimeMs, receivedTimeMs } from './analytics/event-time.js';

/** An ISO 8601 UTC time with a four-digit year, as the gateway writes them (and Elasticsearch reads them). */
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/**
 * True when a record's parsed value can go to the sinks: the fields they key, partition and
 * window on are there and well formed. `received_at` names the raw-event index, so a value
 * Elasticsearch cannot read (`+010000-…`) must never reach it. Anything else is dead-lettered
 * as PR_ERR_UNREADABLE.
 */
export function isReadableEvent(ev: unknown): ev is EnrichedEvent {
  if (!ev || typeof ev !== 'object') return false;
  const e = ev as Partial<Record<keyof EnrichedEvent, unknown>>;
  return (
    typeof e.event_id === 'string' &&
    typeof e.event_type === 'string' &&
    typeof e.timestamp === 'string' &&
    ISO.test(e.timestamp) &&
    Number.isFinite(eventTimeMs(e.timestamp)) &&
    typeof e.received_at === 'string' &&
    ISO.test(e.received_at) &&
    Number.isFinite(receivedTimeMs(e.received_at))
  );
}

/** A record's value parsed as JSON; undefined when it is not JSON (then it is not readable either). */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The dead letter of a record no sink can read: its parsed value if any and its bytes as stored. */
export function unreadableRecord(tp: TopicPartition, m: InputRecord, parsed: unknown): ProcessorDeadLetter {
  return {
    code: 'PR_ERR_UNREADABLE',
    reason: `processor could not read ${tp.topic}/${tp.partition}@${m.offset}`,
    parsed,
    received: m.bytes ?? m.value,
    origin: { topic: tp.topic, partition: tp.partition, offset: m.offset },
  };
}
