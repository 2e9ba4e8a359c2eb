/**
 * One flush of every sink of a role, as the coordinator runs it in the background: the sinks'
 * writes side by side, then the dead letters they and the coordinator collected, before the
 * commit that passes their offsets.
 */
import type { Clock } from './clock.js';
import type { ConsumerPort } from './consumer-port.js';
import type { DeadLetterBuffer } from './dead-letters.js';
import type { ProcessorMetrics } from './metrics.js';
import type { Sink } from './sink.js';

export interface FlushParts {
  sinks: Sink[];
  deadLetters: DeadLetterBuffer;
  port: Pick<ConsumerPort, 'sendDeadLetters'>;
  metrics: ProcessorMetrics;
  /** Label of the consumer's role in the metrics. */
  role: string;
  clock: Clock;
}

/**
 * Flushes every sink side by side, and sends the dead letters. Each sink takes what it will
 * make durable when called (synchronously), so events added while the writes run belong to
 * the next flush. If any fails, this rejects and the whole flush is retried (a sink that
 * succeeded has nothing left to write).
 */
export async function flushSinks(f: FlushParts): Promise<void> {
  const started = f.clock.now();
  const results = await Promise.allSettled(f.sinks.map((sink) => sink.flush()));
  // Also when a sink failed: what the others refused is sent now (their flush is done).
  await sendDeadLetters(f);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  f.metrics.flushSeconds.observe({ role: f.role }, (f.clock.now() - started) / 1000);
}

/**
 * Sends every dead letter collected so far: after the sinks' flush (which adds the documents
 * Elasticsearch refused), before the commit that passes their offsets. On failure they stay
 * in the buffer, first in line.
 */
async function sendDeadLetters(f: FlushParts): Promise<void> {
  const dead = f.deadLetters.take();
  if (!dead.length) return;
  try {
    await f.port.sendDeadLetters(dead);
  } catch (err) {
    f.deadLetters.restore(dead);
    throw err;
  }
  const byCode = new Map<string, number>();
  for (const d of dead) byCode.set(d.code, (byCode.get(d.code) ?? 0) + 1);
  for (const [code, n] of byCode) f.metrics.deadLettered.inc({ code }, n);
}
