import { buildDeadLetter, type DeadLetterInput } from '../common/dead-letter.js';
import { DEAD_LETTER_TOPIC } from '../contracts/topics.js';
import type { OutRecord } from './event-producer.js';

/** Kafka records for the dead-letter topic, built by the shared builder (common/dead-letter.ts). */
export function deadLetters(topicPrefix: string, limitBytes: number) {
  const topic = topicPrefix + DEAD_LETTER_TOPIC;
  return {
    /** `key` spreads dead letters like events (by visitor when known). */
    record(input: DeadLetterInput, key: string): OutRecord {
      return { topic, key, value: JSON.stringify(buildDeadLetter('gateway', input, limitBytes)) };
    },
  };
}
export type DeadLetters = ReturnType<typeof deadLetters>;
