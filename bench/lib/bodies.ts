/**
 * Request bodies for the benchmarks: batches of realistic events from the traffic generator
 * (scripts/traffic-generator.ts, deterministic for a seed), pre-generated once, with event ids
 * filled in per request so that no two requests of a run carry the same id (the gateway's
 * dedup would otherwise answer "duplicate" without producing anything).
 */
import type { ClientEvent } from '../../contracts/event-schema.js';
import { makeVisit, rng } from '../../scripts/traffic-generator.js';

const ID = '@@ID@@';

export interface Body {
  /** The JSON body, ready to post. */
  body: string;
  /** The browser that sent it (user-agent header) and its address (x-forwarded-for). */
  ua: string;
  ip: string;
  events: number;
}

export interface BodyPool {
  readonly size: number;
  readonly eventsPerBody: number;
  /** Request number k (0, 1, 2 ...): pool entry k mod size, with ids unique to k. */
  body(k: number): Body;
  /** The events of request k as objects (same ids as body(k)), and the batch's sent_at. */
  events(k: number): { events: ClientEvent[]; sentAt: number; ua: string; ip: string };
  /** Next request number, for load generators that just want "another one". */
  next(): Body;
  /**
   * Pool entry k mod size with its event ids left out: the JSON between the ids (one more part
   * than events), for generators that write ids of their own into bytes encoded once.
   */
  parts(k: number): { parts: readonly string[]; ua: string; ip: string };
  /** Average body size in bytes. */
  readonly avgBytes: number;
}

interface Entry {
  parts: string[];
  events: ClientEvent[];
  sentAt: number;
  ua: string;
  ip: string;
}

/**
 * `size` batches of `eventsPerBody` events. Each batch is one browser: one visitor (its
 * user agent and IP), one or more visits (sessions) of page views, clicks, carts and purchases,
 * its events spread over the 5 s before the batch's sent_at, as the SDK sends them.
 */
export function bodyPool(opts: { size?: number; eventsPerBody?: number; seed?: number; tag?: string } = {}): BodyPool {
  const size = opts.size ?? 2000;
  const per = opts.eventsPerBody ?? 20;
  const tag = opts.tag ?? Date.now().toString(36);
  const r = rng(opts.seed ?? 42);
  const sentAt = Date.UTC(2026, 0, 1);
  const entries: Entry[] = [];
  for (let n = 0; n < size; n++) {
    const first = makeVisit(r, sentAt - 60_000);
    const events = [...first.events];
    while (events.length < per) {
      const v = makeVisit(r, sentAt - 60_000);
      for (const e of v.events) events.push({ ...e, visitor_id: first.events[0].visitor_id });
    }
    events.length = per;
    events.forEach((e, i) => {
      e.ts = sentAt - (per - i) * Math.floor(5000 / per);
      e.event_id = ID;
    });
    const parts = JSON.stringify({ sent_at: sentAt, events }).split(ID);
    if (parts.length !== per + 1) throw new Error('placeholder clash in generated events');
    entries.push({ parts, events, sentAt, ua: first.ua, ip: first.ip });
  }
  const idOf = (k: number, i: number) => `${tag}-${k.toString(36)}-${i}`;
  let counter = 0;
  let bytes = 0;
  for (const e of entries) bytes += e.parts.reduce((s, p) => s + p.length, 0) + per * 16;
  const pool: BodyPool = {
    size,
    eventsPerBody: per,
    avgBytes: bytes / size,
    body(k) {
      const e = entries[k % size];
      let s = e.parts[0];
      for (let i = 1; i < e.parts.length; i++) s += idOf(k, i - 1) + e.parts[i];
      return { body: s, ua: e.ua, ip: e.ip, events: per };
    },
    events(k) {
      const e = entries[k % size];
      return { events: e.events.map((ev, i) => ({ ...ev, event_id: idOf(k, i) })), sentAt: e.sentAt, ua: e.ua, ip: e.ip };
    },
    next() {
      return pool.body(counter++);
    },
    parts(k) {
      const e = entries[k % size];
      return { parts: e.parts, ua: e.ua, ip: e.ip };
    },
  };
  return pool;
}
