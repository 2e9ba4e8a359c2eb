/**
 * Fakes for the consumer loop's tests: a consumer with committed offsets, logs, commits and dead
 * letters in memory, recording sinks, a clock that moves only when slept on.
 */
import type { DeadLetter } from '../../contracts/dead-letter.js';
import type { Clock } from '../../processor/clock.js';
import type { ConsumerPort, InputBatch, OffsetCommit } from '../../processor/consumer-port.js';
import { DeadLetterBuffer } from '../../processor/dead-letters.js';
import { processorMetrics } from '../../processor/metrics.js';
import type { AssignedPartition, PartitionedSink, SourcePosition } from '../../processor/sink.js';
import { enriched } from './traffic.js';
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { Coordinator } from '../../processor/coordinator.js';

export const TOPICS = ['t-page_views', 't-clicks'];
export const k = (topic: string, partition: number) => `${topic}/${partition}`;
export const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** A released-on-demand promise. */
export function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
}

export class FakeKafka {
  committed = new Map<string, { offset: string; metadata: string }>();
  logs = new Map<string, (string | null)[]>();
  commits: OffsetCommit[][] = [];
  failCommits = 0;
  /** While set, a commit never completes (the process dies before the broker answers). */
  hangCommits = false;
  dead: DeadLetter[] = [];
  failDead = 0;

  append(topic: string, partition: number, values: (string | null)[]): void {
    const log = this.logs.get(k(topic, partition)) ?? [];
    log.push(...values);
    this.logs.set(k(topic, partition), log);
  }

  port(): ConsumerPort {
    return {
      fetchCommitted: async (topics, partition) =>
        topics.map((topic) => {
          const c = this.committed.get(k(topic, partition));
          return { topic, partition, offset: c?.offset ?? null, metadata: c?.metadata ?? null };
        }),
      commit: async (list) => {
        if (this.hangCommits) return new Promise<void>(() => undefined);
        if (this.failCommits > 0) {
          this.failCommits--;
          throw new Error('The group is rebalancing, so a rejoin is needed');
        }
        this.commits.push(list);
        for (const c of list) this.committed.set(k(c.topic, c.partition), { offset: c.offset, metadata: c.metadata });
      },
      logOffsets: async (topics) =>
        [...this.logs].filter(([key]) => topics.some((t) => key.startsWith(`${t}/`))).map(([key, log]) => {
          const [topic, p] = key.split('/');
          return { topic, partition: Number(p), low: '0', high: String(log.length) };
        }),
      sendDeadLetters: async (items) => {
        if (this.failDead > 0) {
          this.failDead--;
          throw new Error('dead-letter topic unavailable');
        }
        this.dead.push(...items);
      },
    };
  }

  /** Records [from, to) of a topic-partition as one batch. */
  batch(topic: string, partition: number, from: number, to?: number, opts: { current?: () => boolean; heartbeats?: { n: number } } = {}): InputBatch {
    const log = this.logs.get(k(topic, partition)) ?? [];
    const end = Math.min(to ?? log.length, log.length);
    return {
      topic,
      partition,
      records: log.slice(from, end).map((value, i) => ({ offset: String(from + i), value })),
      highWatermark: String(log.length),
      current: opts.current ?? (() => true),
      heartbeat: async () => {
        if (opts.heartbeats) opts.heartbeats.n++;
      },
    };
  }
}

/**
 * Writes the event ids it was given to `durable` on flush; its checkpoint is the next offset not
 * yet durable per topic-partition; it never holds commits back.
 */
export class RecordingSink implements PartitionedSink {
  readonly name: string;
  added: string[] = [];
  assigned: AssignedPartition[][] = [];
  revoked: string[] = [];
  committedAt: string[] = [];
  durable: Map<string, number>;
  gate: { p: Promise<void> } | null = null;
  failNext = 0;
  flushes = 0;
  private buffer: string[] = [];
  private seen = new Map<string, bigint>();
  private upTo = new Map<string, bigint>();

  constructor(name: string, durable: Map<string, number>) {
    this.name = name;
    this.durable = durable;
  }
  assign(parts: AssignedPartition[]) {
    this.assigned.push(parts);
  }
  add(event: EnrichedEvent, pos: SourcePosition) {
    this.added.push(`${k(pos.topic, pos.partition)}@${pos.offset}`);
    this.buffer.push(event.event_id);
    this.seen.set(k(pos.topic, pos.partition), BigInt(pos.offset) + 1n);
  }
  async flush() {
    this.flushes++;
    const docs = this.buffer;
    this.buffer = [];
    const upTo = new Map(this.seen);
    if (this.gate) await this.gate.p;
    if (this.failNext > 0) {
      this.failNext--;
      this.buffer = docs.concat(this.buffer);
      throw new Error(`${this.name} unavailable`);
    }
    for (const id of docs) this.durable.set(id, (this.durable.get(id) ?? 0) + 1);
    for (const [tp, v] of upTo) this.upTo.set(tp, v);
  }
  committableOffset() {
    return undefined;
  }
  checkpoint(topic: string, partition: number) {
    return this.upTo.get(k(topic, partition))?.toString();
  }
  committed(topic: string, partition: number, offset: string) {
    this.committedAt.push(`${k(topic, partition)}@${offset}`);
  }
  revoke(topic: string, partition: number) {
    this.revoked.push(k(topic, partition));
  }
}

/** A clock that moves only when slept on; a sleep yields to the event loop. */
export function fakeClock(): Clock & { t: number } {
  return {
    t: 0,
    now() {
      return this.t;
    },
    sleep(ms: number) {
      this.t += ms;
      return new Promise((r) => setTimeout(r, 0));
    },
  };
}

export function events(prefix: string, n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify(
      enriched({
        event_id: `${prefix}-${from + i}`,
        event_type: 'page_view',
        timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, from + i)).toISOString(),
        visitor_id: 'v',
        session_id: 's',
        url: '/',
      }),
    ),
  );
}

export function setup(o: { batchSize?: number; sinks?: number; deadLetterUnreadable?: boolean; kafka?: FakeKafka; durable?: Map<string, number>; commitTimeoutMs?: number } = {}) {
  const kafka = o.kafka ?? new FakeKafka();
  const durable = o.durable ?? new Map<string, number>();
  const sinks = Array.from({ length: o.sinks ?? 1 }, (_, i) => new RecordingSink(`rec${i}`, durable));
  const clock = fakeClock();
  const metrics = processorMetrics();
  const c = new Coordinator({
    topics: TOPICS,
    sinks,
    port: kafka.port(),
    deadLetters: new DeadLetterBuffer(8192),
    metrics,
    log: quiet,
    flushIntervalMs: 1000,
    batchSize: o.batchSize ?? 1_000_000,
    maxRetryDelayMs: 5000,
    commitTimeoutMs: o.commitTimeoutMs,
    role: 'test',
    deadLetterUnreadable: o.deadLetterUnreadable ?? true,
    clock,
  });
  const metric = async (name: string) => {
    const m = (await metrics.registry.getSingleMetricAsString(name)).match(/ (\d+(?:\.\d+)?)$/m);
    return m ? Number(m[1]) : 0;
  };
  return { kafka, durable, sinks, clock, metrics, metric, c };
}

/** Waits until the condition holds, yielding to the event loop (bounded). */
export async function until(cond: () => boolean, what: string) {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 0));
  if (!cond()) throw new Error(`never happened: ${what}`);
}


/** Polls `step` on real time (a commit timeout is a real timer), up to 5 s. */
export async function waitReal(step: () => boolean, what: string) {
  const end = Date.now() + 5000;
  while (!step()) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
