/**
 * A record on the dead-letter topic (`events_dead_letter`): why something the pipeline was
 * given could not be stored where it belongs, and what it was. Written by the gateway (events
 * and bodies it refuses) and by the processor (records it cannot read, documents Elasticsearch
 * refuses); built by one function, common/dead-letter.ts, so both write the same shape.
 */
export interface DeadLetter {
  /** Who wrote it: the gateway refused it at the door, or the processor could not store it. */
  source: 'gateway' | 'processor';
  /** A code of the writer's catalogue: `GW_ERR_*` (gateway/errors.ts) or `PR_ERR_*` (processor/errors.ts). */
  code: string;
  reason: string;
  /**
   * The offending item as parsed (JSON text; for the processor, the document it tried to write),
   * at most DEAD_LETTER_RAW_BYTES bytes; `…[truncated N bytes]` marks a cut.
   */
  raw: string;
  /**
   * The bytes as received (the request body or the event's own span of it; for the processor,
   * the Kafka record's value), at most DEAD_LETTER_RAW_BYTES bytes: parsing can change what was
   * sent (`1e400` parses as Infinity and prints as null), this cannot. Null when only the parsed
   * form exists (documents the processor computed itself).
   */
  received: string | null;
  /** How `received` is written: `utf8` text, or `base64` when the bytes are not valid UTF-8. */
  received_encoding: 'utf8' | 'base64' | null;
  /** Size in bytes of everything received for this item (before any truncation), or null. */
  received_bytes: number | null;
  /** True when `raw` or `received` was cut at the size bound. */
  truncated: boolean;
  site_id: string | null;
  /** When the dead letter was written (ISO 8601). */
  received_at: string;
  /** Position of the event in its batch, when it came in one. */
  index: number | null;
  /** For the processor: the Kafka record the item came from, when it came from one. */
  origin: { topic: string; partition: number; offset: string } | null;
  /**
   * When an event id was seen twice with different content: a 64-bit hash (16 hex digits) of the
   * text of the version kept first and of this one.
   */
  digests: { kept: string; refused: string } | null;
}
