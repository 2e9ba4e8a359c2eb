/**
 * Drives PartitionEngine the way the consumer does (batches from the four topic-partitions in
 * some interleaving, drain and write after each batch, commit with checkpoints), with optional
 * crashes at random moments: a crash loses the engine's memory and whatever was not yet
 * written, and processing restarts from the committed offsets with their checkpoints.
 * The "Elasticsearch" here is a map from index/id to the last document written.
 */
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { PartitionEngine, type Checkpoint, type EngineOptions, encodeCheckpoint, decodeCheckpoint } from '../analytics/engine.js';
import { rng } from './traffic.js';

export interface SimOptions {
  seed: number;
  /** Largest batch taken from one topic-partition at a time. */
  maxBatch: number;
  /** Chance of a crash at each step (before the write, or between write and commit). */
  crashChance?: number;
  maxCrashes?: number;
  /** Write provisional documents (as the sink does every emit interval). */
  provisional?: boolean;
  /** Another sink (the archive) holds commits up to this many offsets further back, at random. */
  otherSinkLag?: number;
}

export interface SimResult {
  docs: Map<string, Record<string, unknown>>;
  crashes: number;
  late: number;
  engine: PartitionEngine;
}

export function simulate(topicLogs: EnrichedEvent[][], options: EngineOptions, sim: SimOptions): SimResult {
  const r = rng(sim.seed);
  const docs = new Map<string, Record<string, unknown>>();
  const committed: ({ offset: number; metadata: string } | null)[] = topicLogs.map(() => null);
  const n = topicLogs.length;
  let crashes = 0;
  let late = 0;
  const crash = () => crashes < (sim.maxCrashes ?? 10) && r() < (sim.crashChance ?? 0);

  for (;;) {
    const engine = new PartitionEngine(options);
    const pos: number[] = [];
    for (let t = 0; t < n; t++) {
      const c = committed[t];
      engine.restore(t, c ? c.offset : null, c ? (decodeCheckpoint(c.metadata) as Checkpoint) : null);
      engine.setLogOffsets(t, 0, topicLogs[t].length);
      pos[t] = c ? c.offset : 0;
    }
    let crashed = false;
    for (;;) {
      const open = [...Array(n).keys()].filter((t) => pos[t] < topicLogs[t].length);
      if (open.length === 0) break;
      const t = open[Math.floor(r() * open.length)];
      const size = 1 + Math.floor(r() * sim.maxBatch);
      const end = Math.min(topicLogs[t].length, pos[t] + size);
      for (let o = pos[t]; o < end; o++) if (engine.add(topicLogs[t][o], t, o) === 'late') late++;
      pos[t] = end;
      if (crash()) {
        crashes++;
        crashed = true;
        break;
      }
      for (const d of engine.drain(sim.provisional ?? true)) docs.set(`${d.index}/${d.id}`, d.doc);
      if (crash()) {
        crashes++;
        crashed = true;
        break;
      }
      for (let u = 0; u < n; u++) {
        const cp = engine.commitPoint(u);
        if (!cp) continue;
        let offset = cp.offset;
        if (sim.otherSinkLag) offset = Math.max(committed[u]?.offset ?? 0, offset - Math.floor(r() * sim.otherSinkLag));
        committed[u] = { offset, metadata: encodeCheckpoint(engine.checkpointAt(u, offset)) };
        engine.committed(u, offset);
      }
    }
    if (crashed) continue;
    for (const d of engine.drain(true)) docs.set(`${d.index}/${d.id}`, d.doc);
    return { docs, crashes, late, engine };
  }
}

/** The four topic logs of one partition from events in arrival order. */
export function splitByType(events: EnrichedEvent[], topics: readonly string[], typeOfTopic: (topic: string) => string): EnrichedEvent[][] {
  return topics.map((topic) => events.filter((e) => e.event_type === typeOfTopic(topic)));
}
