import type { FastifyBaseLogger } from 'fastify';
import type { ClientEvent } from '../contracts/event-schema.js';
import { BOTS_TOPIC, topicFor } from '../contracts/topics.js';
import { anonymiseIp, unmapIPv4 } from './anonymise-ip.js';
import type { BotPolicy } from './bot-policy.js';
import type { DeadLetters } from './dead-letter.js';
import { FORGOTTEN, WITH_CONTENT, flightKey, identityLanes, type RecentIds } from './dedup.js';
import type { Delivery } from './delivery.js';
import type { QueryKeep } from './url-normalise.js';
import { enrichedJson, eventTimeRefusal, plainBody, type EventTimeWindow, type RequestContext } from './enrich.js';
import { GW_ERRORS } from './errors.js';
import type { OutRecord } from './event-producer.js';
import type { GeoProvider } from './geo.js';
import { eventSpans } from './json-spans.js';
import { UrlMemo } from './parsed-url.js';
import { digestText, digestTextSpan, lanes } from './content-digest.js';
import type { GatewayMetrics } from './metrics.js';
import type { Site } from './sites.js';
import type { UaInfo } from './user-agent.js';
import type { Validation } from './validate.js';

/** The fate of one event of a request, in the order they came. */
export interface EventResult {
  index: number;
  event_id: string | null;
  status: 'accepted' | 'duplicate' | 'rejected' | 'dropped';
  code?: string;
  reason?: string;
}

export interface IngestReply {
  status: 200 | 207 | 400;
  body: {
    accepted: number;
    duplicate: number;
    rejected: number;
    dropped: number;
    /** Per event; left out of a 200 where every event was accepted, unless the caller asked (`wantResults`). */
    results?: EventResult[];
    error?: { code: string; message: string };
  };
}

export interface IngestInput {
  events: unknown[];
  sentAt: number | null;
  site: Site | null;
  /** The client address as Fastify resolved it (TRUSTED_PROXIES); never stored as is. */
  ip: string;
  userAgent: string;
  receivedAt: number;
  log: FastifyBaseLogger;
  /** The body as received, when there is one: refused events keep their own span of it. */
  bodyText?: string;
  /** The bytes `bodyText` was decoded from (a byte-order mark included), when there are any: content digests read them four at a time. */
  bodyBytes?: Buffer;
  /** The caller wants the per-event results even when every event was accepted (`?results=1`; the pixel). */
  wantResults?: boolean;
}

export interface IngestDeps {
  topicPrefix: string;
  validate: (input: unknown) => Validation;
  parseUa: (ua: string) => UaInfo;
  geo: GeoProvider;
  hashUserId?: (id: string) => string;
  /** Query parameters page URLs keep (URL_QUERY_ALLOWLIST). */
  keepQuery?: QueryKeep;
  botPolicy: BotPolicy;
  recent: RecentIds;
  delivery: Delivery;
  deadLetters: DeadLetters;
  metrics: GatewayMetrics;
  /** How long a retry waits for the outcome of its original still in flight. */
  waitMs: number;
  /** Event times outside it are refused (GW_ERR_EVENT_TIME_OUT_OF_RANGE). */
  timeWindow: EventTimeWindow;
}

function tally(values: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of values) out.set(v, (out.get(v) ?? 0) + 1);
  return out;
}

const clip = (v: unknown, n: number): string | null => (typeof v === 'string' ? v.slice(0, n) : null);

/** Tells dedup the outcome of a request's claims (RecentIds.begin). */
function settle(claims: ((acked: boolean) => void)[], acked: boolean): void {
  for (const finish of claims) finish(acked);
}

/**
 * One request's events on their way through ingest: what each became, the records to send, and
 * per event index its identity's hash lanes (site, event id) and its content digest's lanes. A
 * class rather than closures made per request: ingest's helpers were eight functions allocated
 * (and named) for every request.
 */
class IngestRun {
  /** Per event: undefined while accepted (the common case costs no object), else its result. */
  results: (EventResult | undefined)[] | undefined;
  readonly records: OutRecord[] = [];
  readonly keys: Int32Array;
  readonly digests: Int32Array;
  /** Indexes of the events accepted, in order, and of those validated and not repeats (the batch's own identities). */
  readonly accepted: number[] = [];
  readonly own: number[] = [];
  readonly acceptedTypes: string[] = [];
  readonly rejectedCodes: string[] = [];
  /** Over 32 events a batch's identities are looked up in a Map (by 53 bits, then compared in full), under it by a scan. */
  readonly ownByKey: Map<number, number> | null;
  dropped = 0;
  spans: [number, number][] | null | undefined = undefined;
  /** The body's bytes, when they are as many as its chars (all ASCII): a span of the text is then the same span of them. */
  readonly ascii: DataView | undefined;

  constructor(
    readonly d: IngestDeps,
    readonly n: number,
    /** The body as received, when there is one. */
    readonly body: string | undefined,
    readonly ctx: RequestContext,
    readonly siteId: string | null,
    readonly bot: BotPolicy | null,
    readonly botTopic: string,
    /** The bytes `body` was decoded from. */
    bytes?: Buffer,
  ) {
    this.ascii = bytes && body !== undefined && bytes.length === body.length ? new DataView(bytes.buffer, bytes.byteOffset, bytes.length) : undefined;
    this.keys = new Int32Array(2 * n);
    this.digests = new Int32Array(2 * n);
    this.ownByKey = n > 32 ? new Map<number, number>() : null;
  }

  refuse(index: number, r: EventResult): void {
    (this.results ??= new Array<EventResult | undefined>(this.n))[index] = r;
  }

  /** The refused event's own bytes of the body. */
  receivedOf(index: number): string | null {
    const body = this.body;
    if (body === undefined) return null;
    if (this.spans === undefined) this.spans = eventSpans(body, this.digests, this.ascii);
    const span = this.spans?.[index];
    return span ? body.slice(span[0], span[1]) : null;
  }

  /**
   * What an event's content is: a digest of its bytes as sent (its span of the body, digested with
   * every event's span on the first call; for the pixel, its JSON's), into `digests` at its index. A retry
   * carries the same bytes; another event under the same id does not.
   */
  digestOf(index: number, ev: ClientEvent): void {
    const body = this.body;
    if (body !== undefined) {
      if (this.spans === undefined) this.spans = eventSpans(body, this.digests, this.ascii);
      const span = this.spans?.[index];
      // A valid event is an object, whose digest eventSpans wrote.
      if (span && body.charCodeAt(span[0]) === 0x7b) return;
      if (span) {
        digestTextSpan(body, span[0], span[1], this.digests, index);
        return;
      }
    }
    const json = JSON.stringify(ev);
    digestTextSpan(json, 0, json.length, this.digests, index);
  }

  /** The earlier event of this batch with the identity of event `index`, or -1. */
  ownBefore(index: number): number {
    const keys = this.keys;
    const hi = keys[2 * index];
    const lo = keys[2 * index + 1];
    if (this.ownByKey) {
      const j = this.ownByKey.get(flightKey(hi, lo));
      return j !== undefined && keys[2 * j] === hi && keys[2 * j + 1] === lo ? j : -1;
    }
    for (const j of this.own) if (keys[2 * j] === hi && keys[2 * j + 1] === lo) return j;
    return -1;
  }

  /**
   * Seen before under the same identity (kept: its digest's lanes, or none): a duplicate when
   * the content matches, else a conflict (refused, dead-lettered).
   */
  seenBefore(index: number, ev: ClientEvent, withContent: boolean, kHi: number, kLo: number): void {
    const dHi = this.digests[2 * index];
    const dLo = this.digests[2 * index + 1];
    if (!withContent || (kHi === dHi && kLo === dLo)) {
      this.refuse(index, { index, event_id: ev.event_id, status: 'duplicate' });
      return;
    }
    const kept = digestText(kHi, kLo);
    const digest = digestText(dHi, dLo);
    const reason = `event id ${ev.event_id} was accepted with other content for this site (digest ${kept}, this one ${digest})`;
    this.refuse(index, { index, event_id: ev.event_id, status: 'rejected', code: 'GW_ERR_EVENT_ID_CONFLICT', reason });
    this.records.push(this.d.deadLetters.record({ code: 'GW_ERR_EVENT_ID_CONFLICT', reason, parsed: ev, received: this.receivedOf(index), siteId: this.siteId, index, digests: { kept, refused: digest } }, ev.visitor_id));
    this.rejectedCodes.push('GW_ERR_EVENT_ID_CONFLICT');
  }

  /** Seen before in this batch or remembered by dedup: true when it was (and its fate is set). */
  repeat(index: number, ev: ClientEvent, now: number): boolean {
    const j = this.ownBefore(index);
    if (j >= 0) {
      this.seenBefore(index, ev, true, this.digests[2 * j], this.digests[2 * j + 1]);
      return true;
    }
    const found = this.d.recent.lookup(this.keys[2 * index], this.keys[2 * index + 1], now);
    if (found === FORGOTTEN) return false;
    this.seenBefore(index, ev, found === WITH_CONTENT, lanes[0], lanes[1]);
    return true;
  }

  accept(index: number, ev: ClientEvent): void {
    if (this.bot === 'drop') {
      this.refuse(index, { index, event_id: ev.event_id, status: 'dropped', code: 'GW_BOT_DROPPED', reason: 'user agent is a bot (BOT_POLICY=drop)' });
      this.dropped++;
      return;
    }
    const topic = this.bot === 'route' ? this.botTopic : topicFor(ev.type, this.d.topicPrefix);
    this.records.push({ topic, key: ev.visitor_id, value: enrichedJson(ev, this.ctx) });
    this.accepted.push(index);
    this.acceptedTypes.push(ev.type);
  }
}

/**
 * Validates, deduplicates, enriches and produces one request's events, and says what became
 * of each. Everything per request (user agent, geo, IP) is computed once; every record of the
 * request (events and dead letters alike) goes to Kafka in one send, and the answer waits for
 * its acknowledgement: an event is reported accepted only once Kafka has it, and an invalid
 * one rejected only once its dead letter is stored.
 */
export function createIngest(d: IngestDeps) {
  const botTopic = d.topicPrefix + BOTS_TOPIC;
  const urls = new UrlMemo(d.keepQuery);

  return async function ingest(input: IngestInput): Promise<IngestReply> {
    const { events, site, receivedAt, log } = input;
    d.delivery.check(events.length); // Kafka down or overloaded: 503 before any work.

    const fullIp = unmapIPv4(input.ip);
    const ua = d.parseUa(input.userAgent);
    const siteId = site?.siteId || null;
    const ctx: RequestContext = {
      ua,
      geo: d.geo.lookup(fullIp),
      ip: anonymiseIp(fullIp),
      siteId,
      receivedAt,
      sentAt: input.sentAt,
      siteHosts: site?.hosts,
      hashUserId: d.hashUserId,
      keepQuery: d.keepQuery,
      urls,
      plainStrings: input.bodyText !== undefined && plainBody(input.bodyText),
    };
    const bot = ua.is_bot ? d.botPolicy : null;

    const n = events.length;
    const run = new IngestRun(d, n, input.bodyText, ctx, siteId, bot, botTopic, input.bodyBytes);
    const { keys, digests, accepted, records, rejectedCodes } = run;
    let deferred: [number, ClientEvent][] | undefined;
    let waits: Set<Promise<void>> | undefined;

    for (let index = 0; index < n; index++) {
      const raw = events[index];
      let v = d.validate(raw);
      if (v.ok) {
        const late = eventTimeRefusal(v.event.ts, input.sentAt, receivedAt, d.timeWindow);
        if (late) v = { ok: false, code: 'GW_ERR_EVENT_TIME_OUT_OF_RANGE', reason: late };
      }
      if (!v.ok) {
        const obj = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
        run.refuse(index, { index, event_id: clip(obj?.event_id, 64), status: 'rejected', code: v.code, reason: v.reason });
        records.push(d.deadLetters.record({ code: v.code, reason: v.reason, parsed: raw, received: run.receivedOf(index), siteId, index }, clip(obj?.visitor_id, 128) || 'invalid'));
        rejectedCodes.push(v.code);
        continue;
      }
      const ev = v.event;
      identityLanes(siteId, ev.event_id);
      const hi = lanes[0];
      const lo = lanes[1];
      keys[2 * index] = hi;
      keys[2 * index + 1] = lo;
      run.digestOf(index, ev);
      if (run.repeat(index, ev, receivedAt)) continue;
      run.own.push(index);
      run.ownByKey?.set(flightKey(hi, lo), index);
      const pending = d.recent.pendingOf(hi, lo);
      if (pending) {
        // Its original is on its way to Kafka: wait for the outcome rather than send it twice.
        (deferred ??= []).push([index, ev]);
        (waits ??= new Set()).add(pending);
        continue;
      }
      run.accept(index, ev);
    }

    // Claim the ids this request sends before waiting on anything: a third request carrying one
    // of them then waits for this one instead of producing a second copy.
    const claims = accepted.length > 0 ? [d.recent.begin(keys, digests, accepted, 0, accepted.length)] : [];

    if (deferred !== undefined && waits !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const settled = await Promise.race([
        Promise.all(waits).then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), d.waitMs))),
      ]);
      clearTimeout(timer);
      const claimed = accepted.length;
      for (const [index, ev] of deferred) {
        // Still undecided (Kafka slow, or yet another copy in flight): 503, and the client retries.
        if (!settled || d.recent.pendingOf(keys[2 * index], keys[2 * index + 1])) {
          settle(claims, false);
          throw d.delivery.retryLater('the same events are still on their way to Kafka');
        }
        const found = d.recent.lookup(keys[2 * index], keys[2 * index + 1]);
        if (found !== FORGOTTEN) run.seenBefore(index, ev, found === WITH_CONTENT, lanes[0], lanes[1]);
        else run.accept(index, ev);
      }
      if (accepted.length > claimed) claims.push(d.recent.begin(keys, digests, accepted, claimed, accepted.length));
    }

    if (records.length > 0) await d.delivery.send(records, log, (acked) => settle(claims, acked));
    else settle(claims, false);

    // Counted once Kafka has them, so a 503 and its retry do not count twice.
    const m = d.metrics;
    const dropped = run.dropped;
    for (const [t, n] of tally(run.acceptedTypes)) m.accepted.inc({ type: t }, n);
    for (const [c, n] of tally(rejectedCodes)) {
      m.rejected.inc({ code: c }, n);
      m.deadLetters.inc({ code: c }, n);
    }
    if (bot) m.bots.inc({ action: bot === 'drop' ? 'dropped' : bot === 'route' ? 'routed' : 'flagged' }, bot === 'drop' ? dropped : accepted.length);
    if (dropped) m.dropped.inc({ reason: 'bot' }, dropped);
    const duplicate = n - accepted.length - rejectedCodes.length - dropped;
    if (duplicate) m.duplicates.inc(duplicate);
    m.dedupEntries.set(d.recent.size);

    const rejected = rejectedCodes.length;
    const status = rejected === 0 ? 200 : rejected === n ? 400 : 207;
    // The short answer for the common case: nothing to say about any single event.
    const reply: IngestReply['body'] = { accepted: accepted.length, duplicate, rejected, dropped };
    if (accepted.length !== n || input.wantResults) {
      const results = run.results;
      const all = new Array<EventResult>(n);
      for (let i = 0; i < n; i++) all[i] = results?.[i] ?? { index: i, event_id: (events[i] as ClientEvent).event_id, status: 'accepted' };
      reply.results = all;
    }
    if (status === 400) reply.error = { code: 'GW_ERR_ALL_EVENTS_INVALID', message: GW_ERRORS.GW_ERR_ALL_EVENTS_INVALID.message };
    return { status, body: reply };
  };
}
export type Ingest = ReturnType<typeof createIngest>;
