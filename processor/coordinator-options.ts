/** What the Coordinator (coordinator.ts) is built from: its topics, sinks, consumer port, limits and role. */
import type { Clock } from './clock.js';
import type { ConsumerPort } from './consumer-port.js';
import type { DeadLetterBuffer } from './dead-letters.js';
import type { ProcessorMetrics } from './metrics.js';
import type { Sink } from './sink.js';

/** Where the coordinator logs (pino in production). */
export interface LogSink {
  debug(o: object, msg: string): void;
  info(o: object, msg: string): void;
  warn(o: object, msg: string): void;
  error(o: object, msg: string): void;
}

export interface CoordinatorOptions {
  /** The consumed topics (with prefix), in a fixed order. */
  topics: string[];
  sinks: Sink[];
  port: ConsumerPort;
  deadLetters: DeadLetterBuffer;
  metrics: ProcessorMetrics;
  log: LogSink;
  flushIntervalMs: number;
  batchSize: number;
  /** The longest wait between flush retries (kept well below the session timeout). */
  maxRetryDelayMs: number;
  /**
   * How long a flush waits for its offset commit (default 5 s). A commit still pending then is
   * given up (the next flush commits newer offsets): a commit that never settles must not hold
   * every later flush back, as one to a dead group coordinator did.
   */
  commitTimeoutMs?: number;
  /** Label of this consumer's role in the metrics. */
  role: string;
  /**
   * Whether this role dead-letters unreadable records (only one role does, so a record that no
   * role can read is dead-lettered once, not once per consumer group).
   */
  deadLetterUnreadable: boolean;
  clock?: Clock;
  /**
   * How a record's text becomes the event handed to the sinks (default: JSON.parse). A role whose
   * sinks read few fields parses only those (processor/layout-parse.ts); a record it cannot read
   * is parsed whole for its dead letter.
   */
  parse?: (text: string) => unknown;
  /**
   * The same parse from the value's UTF-8 bytes `buf[start, end)`, used for records that say where
   * their bytes are (InputRecord.valueBuf): the record's text is then never made. Those records'
   * positions have no `raw` text.
   */
  parseBytes?: (buf: Buffer, start: number, end: number) => unknown;
}
