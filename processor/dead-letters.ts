import { buildDeadLetter, type DeadLetterInput } from '../common/dead-letter.js';
import type { DeadLetter } from '../contracts/dead-letter.js';
import type { ProcessorErrorCode } from './errors.js';

export interface ProcessorDeadLetter extends DeadLetterInput {
  code: ProcessorErrorCode;
}

/**
 * Dead letters the processor collected (unreadable records, documents Elasticsearch refused),
 * sent to the dead-letter topic by the consumer after the sinks' flush and before the commit
 * that passes their offsets, so none is lost to a crash.
 */
export class DeadLetterBuffer {
  private items: DeadLetter[] = [];
  constructor(private readonly limitBytes: number) {}
  /** Called by a sink or the consumer when something cannot be stored where it belongs. */
  push(item: ProcessorDeadLetter): void {
    this.items.push(buildDeadLetter('processor', item, this.limitBytes));
  }
  /** Called by the consumer when it sends: everything collected so far. */
  take(): DeadLetter[] {
    const out = this.items;
    this.items = [];
    return out;
  }
  /** Called by the consumer when a send failed: puts the records back, first in line. */
  restore(items: DeadLetter[]): void {
    this.items = [...items, ...this.items];
  }
}
