import type { DeadLetter } from '../contracts/event-schema.js';
import { DEAD_LETTER_TOPIC } from '../contracts/topics.js';
import type { OutRecord } from './event-producer.js';

/** Builds records for the dead-letter topic: reason, code, bounded raw payload, site and time. */
export function deadLetters(topicPrefix: string, rawLimit: number) {
  const topic = topicPrefix + DEAD_LETTER_TOPIC;
  const truncate = (s: string) => (s.length > rawLimit ? `${s.slice(0, rawLimit)}…[truncated ${s.length - rawLimit} chars]` : s);

  const rawOf = (value: unknown): string => {
    if (typeof value === 'string') return truncate(value);
    try {
      // Deeply nested or cyclic values make stringify throw: keep a marker rather than nothing.
      const s = JSON.stringify(value);
      return truncate(s === undefined ? String(value) : s);
    } catch {
      return '[unserialisable]';
    }
  };

  return {
    truncate,
    rawOf,
    record(reason: string, code: string, raw: unknown, siteId: string | null, index: number | null, key: string): OutRecord {
      const dl: DeadLetter = { reason, code, raw: rawOf(raw), site_id: siteId, received_at: new Date().toISOString(), index };
      return { topic, key, value: JSON.stringify(dl) };
    },
  };
}
export type DeadLetters = ReturnType<typeof deadLetters>;
