import type { DeadLetter } from '../contracts/event-schema.js';
import { DEAD_LETTER_TOPIC } from '../contracts/topics.js';
import type { OutRecord } from './event-producer.js';

/**
 * JSON of `value`, the same text JSON.stringify gives for parsed JSON, but cut below
 * `maxDepth` levels ("…") and once about `maxChars` characters are written: a dead letter
 * keeps a bounded raw payload whatever the client sent, and a 30,000-deep array costs no
 * stack overflow.
 */
export function shallowJson(value: unknown, maxDepth: number, maxChars: number): string {
  let out = '';
  const walk = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object') {
      out += JSON.stringify(v) ?? 'null';
      return;
    }
    if (depth >= maxDepth) {
      out += '"…"';
      return;
    }
    if (Array.isArray(v)) {
      out += '[';
      for (let i = 0; i < v.length && out.length <= maxChars; i++) {
        if (i) out += ',';
        walk(v[i], depth + 1);
      }
      out += ']';
      return;
    }
    out += '{';
    let first = true;
    for (const k in v) {
      if (!Object.hasOwn(v, k)) continue;
      if (out.length > maxChars) break;
      if (!first) out += ',';
      first = false;
      out += `${JSON.stringify(k)}:`;
      walk((v as Record<string, unknown>)[k], depth + 1);
    }
    out += '}';
  };
  walk(value, 0);
  return out;
}

/** Builds records for the dead-letter topic: reason, code, bounded raw payload, site and time. */
export function deadLetters(topicPrefix: string, rawLimit: number) {
  const topic = topicPrefix + DEAD_LETTER_TOPIC;
  const truncate = (s: string) => (s.length > rawLimit ? `${s.slice(0, rawLimit)}…[truncated ${s.length - rawLimit} chars]` : s);

  const rawOf = (value: unknown): string => {
    if (typeof value === 'string') return truncate(value);
    const s = shallowJson(value, 64, rawLimit);
    return s.length > rawLimit ? `${s.slice(0, rawLimit)}…[truncated]` : s;
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
