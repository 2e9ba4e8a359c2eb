/**
 * Drives PartitionEngine the way the consumer does (batches from the four topic-partitions in
 * some interleaving, drain and write after each batch, commit with checkpoints), with optional
 * crashes at random moments: a crash loses the engine's memory and whatever was not yet
 * written, and processing restarts from the committed offsets with their checkpoints.
 * The "Elasticsearch" here is a map from index/id to the last document written.
 */
import type { EnrichedEvent } from '../../contracts/event-schema.js';
import { EVENT_TOPICS, TOPIC_BY_TYPE } from '../../contracts/topics.js';
import { sliding, tumbling } from '../../contracts/windows.js';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../../processor/analytics/checkpoint.js';
import { PartitionEngine, type EngineOptions, type OutDoc } from '../../processor/analytics/engine.js';
import { rng } from './traffic.js';

/** The topics the simulated partition reads, in the order of its logs. */
export const SIM_TOPICS = [...EVENT_TOPICS];

/** The engine as the simulation tests run it: 1-minute tumbling and 5-minute sliding windows, 30 s lateness, 30-minute sessions, bots left out. */
export function simEngineOptions(partition: number): EngineOptions {
  const min = 60_000;
  return { partition, topics: SIM_TOPICS, windows: [tumbling(min), sliding(5 * min, min)], urlWindowMs: min, latenessMs: 30_000, sessionGapMs: 30 * min, excludeBots: true };
}

/** The events split into one log per topic of SIM_TOPICS, each in the events' order. */
export function logsOf(events: EnrichedEvent[]): EnrichedEvent[][] {
  return SIM_TOPICS.map((topic) => events.filter((e) => TOPIC_BY_TYPE[e.event_type] === topic));
}

export interface SimOptions {
  seed: number;
  /** Largest batch taken from one topic-partition at a time. */
  maxBatch: number;
  /** Chance of a crash at each step (before the write, or between write and commit). */
  crashChance?: number;
  maxCrashes?: number;
  /**
   * Write provisional documents (as the sink does every emit interval); `'mixed'`: at each drain,
   * at random, every open structure, the open KPI windows alone (their shorter interval) or none;
   * `'timer'`: as with the KPI timer, the open KPI windows are written between drains at random
   * (`openKpiDocs`) and each drain writes the other open structures or none.
   */
  provisional?: boolean | 'mixed' | 'timer';
  /** Another sink (the archive) holds commits up to this many offsets further back, at random. */
  otherSinkLag?: number;
  /**
   * Live input: events become visible in arrival order while the engine runs (`arrival` gives,
   * for each arrival, its topic index; the n-th arrival of topic t is offset n of t), up to
   * `appendPerStep` per step, and the log end offsets the engine sees are up to `staleSteps`
   * steps old (as from the consumer's poller).
   */
  live?: { arrival: number[]; appendPerStep: number; staleSteps: number; burstEvery?: number };
  /** One flush in flight: a drain's documents are written and committed after the next batch. */
  overlap?: boolean;
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
  const emit = (): boolean | 'kpis' | 'others' => {
    if (sim.provisional === 'timer') return r() < 0.3 ? 'others' : false;
    if (sim.provisional !== 'mixed') return sim.provisional ?? true;
    const x = r();
    return x < 0.2 ? true : x < 0.7 ? 'kpis' : false;
  };

  // Live input: how many arrivals are visible, and the visible length of each topic after each step.
  let visible = sim.live ? 0 : Infinity;
  const history: number[][] = [];
  const visibleLengths = (): number[] => {
    if (!sim.live) return topicLogs.map((l) => l.length);
    const lens = new Array<number>(n).fill(0);
    for (let i = 0; i < Math.min(visible, sim.live.arrival.length); i++) lens[sim.live.arrival[i]]++;
    return lens;
  };
  let steps = 0;
  const step = () => {
    if (!sim.live) return;
    if (steps++ % (sim.live.burstEvery ?? 1) === 0) visible += 1 + Math.floor(r() * sim.live.appendPerStep);
    history.push(visibleLengths());
  };
  const seenEnds = (): number[] => {
    if (!sim.live) return topicLogs.map((l) => l.length);
    const lag = Math.floor(r() * (sim.live.staleSteps + 1));
    return history[Math.max(0, history.length - 1 - lag)] ?? new Array<number>(n).fill(0);
  };

  for (;;) {
    const engine = new PartitionEngine(options);
    const pos: number[] = [];
    step();
    const ends = seenEnds();
    for (let t = 0; t < n; t++) {
      const c = committed[t];
      engine.restore(t, c ? c.offset : null, c ? (decodeCheckpoint(c.metadata) as Checkpoint) : null);
      engine.setLogOffsets(t, 0, ends[t]);
      pos[t] = c ? c.offset : 0;
    }
    engine.pollDone();
    let crashed = false;
    let inFlight: OutDoc[] | null = null;
    for (;;) {
      step();
      const lens = visibleLengths();
      const ends = seenEnds();
      for (let t = 0; t < n; t++) engine.setLogOffsets(t, 0, ends[t]);
      engine.pollDone();
      const open = [...Array(n).keys()].filter((t) => pos[t] < lens[t]);
      if (open.length === 0) {
        if (lens.every((l, t) => l === topicLogs[t].length)) break;
        continue;
      }
      const t = open[Math.floor(r() * open.length)];
      const size = 1 + Math.floor(r() * sim.maxBatch);
      const end = Math.min(lens[t], pos[t] + size);
      for (let o = pos[t]; o < end; o++) if (engine.add(topicLogs[t][o], t, o) === 'late') late++;
      pos[t] = end;
      if (crash()) {
        crashes++;
        crashed = true;
        break;
      }
      if (sim.provisional === 'timer' && r() < 0.5) for (const d of engine.openKpiDocs()) docs.set(`${d.index}/${d.id}`, d.doc);
      if (sim.overlap) {
        // The previous drain's documents are written (and committed) only now, after this
        // batch was added: the consumer goes on consuming while a flush is in flight.
        if (inFlight) for (const d of inFlight) docs.set(`${d.index}/${d.id}`, d.doc);
        const wasInFlight = inFlight !== null;
        inFlight = null;
        if (crash()) {
          crashes++;
          crashed = true;
          break;
        }
        if (wasInFlight) commitAll();
        inFlight = engine.drain(emit());
        continue;
      }
      for (const d of engine.drain(emit())) docs.set(`${d.index}/${d.id}`, d.doc);
      if (crash()) {
        crashes++;
        crashed = true;
        break;
      }
      commitAll();
    }
    if (crashed) continue;
    if (inFlight) for (const d of inFlight) docs.set(`${d.index}/${d.id}`, d.doc);
    for (let t = 0; t < n; t++) engine.setLogOffsets(t, 0, topicLogs[t].length);
    engine.pollDone();
    for (const d of engine.drain(true)) docs.set(`${d.index}/${d.id}`, d.doc);
    return { docs, crashes, late, engine };

    function commitAll() {
      for (let u = 0; u < n; u++) {
        const cp = engine.commitPoint(u);
        if (!cp) continue;
        let offset = cp.offset;
        if (sim.otherSinkLag) offset = Math.max(committed[u]?.offset ?? 0, offset - Math.floor(r() * sim.otherSinkLag));
        committed[u] = { offset, metadata: encodeCheckpoint(engine.checkpointAt(u, offset)) };
        engine.committed(u, offset);
      }
    }
  }
}

/** The four topic logs of one partition from events in arrival order. */
export function splitByType(events: EnrichedEvent[], topics: readonly string[], typeOfTopic: (topic: string) => string): EnrichedEvent[][] {
  return topics.map((topic) => events.filter((e) => e.event_type === typeOfTopic(topic)));
}
