/**
 * Alerts: runs the stream detectors (click bursts per visitor and per site + network prefix, the
 * bot-session model) over the events this instance consumes, writes each alert to the alerts
 * index under its deterministic id (`create`: a replay that raises it again finds it there and
 * changes nothing), with its pending webhook delivery when there is a webhook (the outbox,
 * ../alerts/outbox.ts, delivers it). `flush` resolves once the alerts raised so far are indexed,
 * so offsets are committed after that; no commit waits for a webhook.
 *
 * The detectors' state is in memory: what a restart needs to rebuild it is the events of the last
 * longest burst span and bot-session gap (event time) of each partition. So the commit is held
 * back to the first of them (`committableOffset`): after a crash they are replayed, a burst or a
 * session under way when it happened is seen whole again, and raises the same alert (same id).
 *
 * The burst detectors mix partitions (the population of all keys, networks' visitors on every
 * partition): clicks reach them merged by event time across the partitions, each judged once
 * every partition has passed it (../anomaly/burst-lanes.ts), so the alerts do not depend on how
 * unevenly partitions are read. A click waiting for another partition holds the commit too.
 *
 * The bot-session model closes a partition's sessions by the partition's event time across its
 * four topics (a PartitionClock, as the analytics engine's: the slowest topic not read to its
 * end), not by the time of the event in hand: a session's page views and clicks are on two topics
 * read unevenly, and with the page views read minutes ahead, sessions closed before their clicks
 * came (and the clicks made sessions of their own that never closed).
 */
import type { Client } from '@elastic/elasticsearch';
import type { AlertDelivery, AlertDoc } from '../../contracts/documents.js';
import { indexNames } from '../../contracts/indices.js';
import type { LogOffsetsSink, PartitionedSink, SourcePosition } from '../sink.js';
import { EVENT_TOPICS } from '../../contracts/topics.js';
import { PartitionClock } from '../analytics/partition-clock.js';
import type { AnalyticsEvent } from '../analytics/analytics-event.js';
import { eventTimeMs } from '../analytics/event-time.js';
import { topicPartitionKey } from '../../common/topic-partition.js';
import { LanedClickBursts } from '../anomaly/burst-lanes.js';
import { BotSessionModel, type BotFinding, type SessionEvent } from '../anomaly/bot-sessions.js';
import type { AnomalyOptions } from '../anomaly/options.js';
import { botAlert, burstAlert } from '../alerts/alert-docs.js';
import type { AlertOutbox } from '../alerts/outbox.js';

export interface AlertsSinkOptions {
  client: Client;
  indexPrefix: string;
  detectors: Pick<AnomalyOptions, 'visitorBursts' | 'networkBursts' | 'bots'>;
  /** Null: alerts are only indexed (no webhook). */
  outbox: AlertOutbox | null;
  /** Called once per alert indexed, `created` false when a replay found it there. */
  onAlert?: (alert: AlertDoc, created: boolean) => void;
  /** The event topics as consumed (prefixed); default EVENT_TOPICS. */
  topics?: readonly string[];
}

/**
 * Per topic-partition, the first offset of each second of (running maximum) event time over the
 * last `holdMs`: at most holdMs / 1000 entries whatever the rate. A partition that received
 * nothing for `holdMs` of wall clock holds nothing (what a burst or session needed has ended),
 * so a quiet partition's commit reaches its log end.
 */
interface HoldPart {
  maxT: number;
  addedAt: number;
  seconds: { s: number; offset: string }[];
}

export class HoldBack {
  private readonly parts = new Map<string, HoldPart>();

  constructor(
    private readonly holdMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The entry of the topic-partition `add` saw last: a fetched batch is one topic-partition, so
   * consecutive events nearly always share it (no key string built and hashed per event).
   */
  private last: { topic: string; partition: number; p: HoldPart } | null = null;

  /**
   * Called once per event, in offset order within its partition. `upTo`: hold from no later than
   * this time either (the partition's time across its topics, when this topic is read ahead of it:
   * its sessions still open there began before this topic's last span).
   */
  add(pos: SourcePosition, t: number, upTo = Infinity) {
    let p: HoldPart | undefined;
    const last = this.last;
    if (last !== null && last.topic === pos.topic && last.partition === pos.partition) p = last.p;
    else {
      const key = topicPartitionKey(pos.topic, pos.partition);
      p = this.parts.get(key);
      if (!p) this.parts.set(key, (p = { maxT: -Infinity, addedAt: 0, seconds: [] }));
      this.last = { topic: pos.topic, partition: pos.partition, p };
    }
    p.maxT = Math.max(p.maxT, t);
    p.addedAt = this.now();
    const s = Math.floor(p.maxT / 1000);
    if (p.seconds.length === 0 || p.seconds[p.seconds.length - 1].s !== s) p.seconds.push({ s, offset: pos.offset });
    const from = Math.floor((Math.min(p.maxT, upTo) - this.holdMs) / 1000);
    let drop = 0;
    while (drop < p.seconds.length - 1 && p.seconds[drop].s < from) drop++;
    if (drop) p.seconds.splice(0, drop);
  }

  /** The first offset a restart must replay (undefined: nothing held). */
  offset(topic: string, partition: number): string | undefined {
    const p = this.parts.get(topicPartitionKey(topic, partition));
    return p && this.now() - p.addedAt < this.holdMs ? p.seconds[0]?.offset : undefined;
  }

  drop(topic: string, partition: number) {
    this.parts.delete(topicPartitionKey(topic, partition));
    if (this.last?.topic === topic && this.last.partition === partition) this.last = null;
  }
}

/**
 * A partition that delivered no click for this long (wall clock) no longer holds the others' clicks
 * back (read to its end, or stalled): short, as a burst must alert within seconds of event time.
 */
export const BURST_LANE_IDLE_MS = 5_000;

const offsetBefore = (a: string | undefined, b: string | undefined) => (a === undefined ? b : b === undefined || BigInt(a) < BigInt(b) ? a : b);

export function alertsSink(o: AlertsSinkOptions): PartitionedSink & LogOffsetsSink & { pending(): number } {
  const index = indexNames(o.indexPrefix).alerts;
  const d = o.detectors;
  const hold = new HoldBack(Math.max(...d.visitorBursts.spans.map((s) => s.spanMs), ...d.networkBursts.spans.map((s) => s.spanMs), d.bots.sessionGapMs));
  const bursts = new LanedClickBursts(o.detectors.visitorBursts, o.detectors.networkBursts, BURST_LANE_IDLE_MS);
  /** The clicks topic, as the consumer names it (prefixed or not): its held clicks hold its commit. */
  let clicksTopic: string | null = null;
  const bots = new BotSessionModel(o.detectors.bots);
  const topicIndex = new Map((o.topics ?? EVENT_TOPICS).map((t, i) => [t, i]));
  /** Per partition: its event time across the topics (the bot-session model's lane clock). */
  const clocks = new Map<number, PartitionClock>();
  const clockOf = (partition: number) => {
    let c = clocks.get(partition);
    if (!c) clocks.set(partition, (c = new PartitionClock(topicIndex.size, 0, false)));
    return c;
  };
  const botEvent: SessionEvent = { session_id: '', visitor_id: '', site_id: null, event_type: '', t: 0, url: '', browser: null, is_bot: false, lane: 0 };
  let buffer: AlertDoc[] = [];
  const botFound = (found: readonly BotFinding[]) => {
    for (const f of found) buffer.push(botAlert(f, o.detectors.bots.threshold));
  };
  return {
    name: 'alerts',
    pending: () => buffer.length,
    // lane: the partition number (the consumer assigns the four topics' partition p together).
    assign(parts) {
      const now = Date.now();
      for (const p of parts) {
        bursts.open(p.partition, now);
        bots.openLane(p.partition);
        const t = topicIndex.get(p.topic);
        if (t !== undefined) clockOf(p.partition).restore(t, p.committed === null ? null : Number(p.committed), null);
      }
    },
    committableOffset: (topic, partition) => {
      const held = hold.offset(topic, partition);
      return topic === clicksTopic ? offsetBefore(held, bursts.firstHeld(partition)) : held;
    },
    checkpoint: () => undefined,
    committed() {},
    revoke: (topic, partition) => {
      hold.drop(topic, partition);
      for (const b of bursts.drop(partition, Date.now())) buffer.push(burstAlert(b));
      if (clocks.delete(partition)) botFound(bots.dropLane(partition));
    },
    logOffsets(topic, partition, low, high) {
      const t = topicIndex.get(topic);
      if (t !== undefined) clocks.get(partition)?.setLogOffsets(t, Number(low), Number(high));
    },
    logOffsetsDone() {
      // Topics read to their end stop holding their partition's time back; a quiet partition holds back no other's sessions.
      for (const [partition, c] of clocks) {
        c.pollDone();
        botFound(bots.advance(c.watermark, partition, c.quiet));
      }
    },
    add(e: AnalyticsEvent, pos) {
      const t = eventTimeMs(e.timestamp);
      if (!Number.isFinite(t)) return;
      // lane: the partition (a visitor's sessions sit on one), with its time across its topics.
      const ti = topicIndex.get(pos.topic);
      const clock = ti === undefined ? null : clockOf(pos.partition);
      // A redelivery (an offset read before) is already in its session.
      const fresh = !clock || ti === undefined || clock.accept(ti, Number(pos.offset));
      if (clock && ti !== undefined && fresh) clock.observe(ti, Number(pos.offset), t);
      hold.add(pos, t, clock?.watermark);
      if (e.event_type === 'click') {
        clicksTopic = pos.topic;
        for (const b of bursts.add({ visitor: e.visitor_id, network: e.ip, site: e.site_id, t }, pos.partition, Date.now(), pos.offset)) buffer.push(burstAlert(b));
      }
      if (!fresh) return;
      // One object refilled per event: the model keeps the values, never the object.
      const b = botEvent;
      b.session_id = e.session_id;
      b.visitor_id = e.visitor_id;
      b.site_id = e.site_id;
      b.event_type = e.event_type;
      b.t = t;
      b.url = e.url;
      b.browser = e.browser;
      b.is_bot = e.is_bot;
      b.lane = pos.partition;
      botFound(bots.add(b, clock ? clock.watermark : t));
    },
    async flush() {
      // Clicks that waited for a partition now idle are judged.
      for (const b of bursts.release(Date.now())) buffer.push(burstAlert(b));
      const batch = buffer;
      buffer = [];
      if (batch.length === 0) return;
      const outbox = o.outbox;
      const docs: (AlertDoc & Partial<AlertDelivery>)[] = outbox ? batch.map((a) => ({ ...a, ...outbox.initial(a) })) : batch;
      try {
        const res = await o.client.bulk({ operations: docs.flatMap((a) => [{ create: { _index: index, _id: a.alert_id } }, a]) });
        const failed: string[] = [];
        res.items.forEach((item, i) => {
          const r = item.create;
          if (!r) return;
          // 409: written before (a replay raised it again): the same alert, its delivery already under way or done.
          if (r.status === 409 || (r.status >= 200 && r.status < 300)) {
            o.onAlert?.(batch[i], r.status !== 409);
            if (outbox && r.status !== 409) outbox.created(docs[i] as AlertDoc & AlertDelivery, r._seq_no, r._primary_term);
          } else failed.push(`${batch[i].alert_id}: ${r.status} ${r.error?.reason ?? ''}`);
        });
        if (failed.length) throw new Error(`alerts not indexed: ${failed.slice(0, 3).join('; ')}`);
      } catch (err) {
        buffer = [...batch, ...buffer];
        throw err;
      }
    },
  };
}
