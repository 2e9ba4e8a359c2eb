import type { FastifyBaseLogger } from 'fastify';
import type { ClientEvent } from '../contracts/event-schema.js';
import { BOTS_TOPIC, topicFor } from '../contracts/topics.js';
import { anonymiseIp, unmapIPv4 } from './anonymise-ip.js';
import type { BotPolicy } from './bot-policy.js';
import type { DeadLetters } from './dead-letter.js';
import { identityOf, type RecentIds } from './dedup.js';
import type { Delivery } from './delivery.js';
import type { QueryKeep } from './url-normalise.js';
import { enrichedJson, eventTimeRefusal, type EventTimeWindow, type RequestContext } from './enrich.js';
import { GW_ERRORS } from './errors.js';
import type { OutRecord } from './event-producer.js';
import type { GeoProvider } from './geo.js';
import { eventSpans } from './json-spans.js';
import { contentDigest } from './content-digest.js';
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

/**
 * Validates, deduplicates, enriches and produces one request's events, and says what became
 * of each. Everything per request (user agent, geo, IP) is computed once; every record of the
 * request (events and dead letters alike) goes to Kafka in one send, and the answer waits for
 * its acknowledgement: an event is reported accepted only once Kafka has it, and an invalid
 * one rejected only once its dead letter is stored.
 */
export function createIngest(d: IngestDeps) {
  const botTopic = d.topicPrefix + BOTS_TOPIC;

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
    };
    const bot = ua.is_bot ? d.botPolicy : null;

    const results: EventResult[] = new Array(events.length);
    const records: OutRecord[] = [];
    const acceptedIds: string[] = [];
    /** Identities (site, event id) and digests of the accepted events, in the same order. */
    const acceptedKeys: string[] = [];
    const acceptedDigests: string[] = [];
    const acceptedTypes: string[] = [];
    const rejectedCodes: string[] = [];
    const inBatch = new Map<string, string>();
    const deferred: [number, ClientEvent, string, string][] = [];
    const waits = new Set<Promise<void>>();
    let dropped = 0;
    let spans: [number, number][] | null | undefined;
    /** Content digests of the body's events by index, found with their spans in one pass. */
    const digests: string[] = [];
    /** The refused event's own bytes of the body. */
    const receivedOf = (index: number): string | null => {
      const text = input.bodyText;
      if (text === undefined) return null;
      if (spans === undefined) spans = eventSpans(text, digests);
      const span = spans?.[index];
      return span ? text.slice(span[0], span[1]) : null;
    };

    /**
     * What an event's content is: a digest of its text as sent (its span of the body; for the
     * pixel, its JSON). A retry carries the same bytes; another event under the same id does not.
     */
    const digestOf = (index: number, ev: ClientEvent): string => {
      const text = input.bodyText;
      if (text !== undefined) {
        if (spans === undefined) spans = eventSpans(text, digests);
        const d = digests[index];
        if (d !== undefined) return d;
        const span = spans?.[index];
        if (span) return contentDigest(text, span[0], span[1]);
      }
      return contentDigest(JSON.stringify(ev));
    };
    /** Seen before under the same identity: a duplicate when the content matches, else a conflict (refused, dead-lettered). */
    const seenBefore = (index: number, ev: ClientEvent, kept: string, digest: string) => {
      if (kept === '' || kept === digest) {
        results[index] = { index, event_id: ev.event_id, status: 'duplicate' };
        return;
      }
      const reason = `event id ${ev.event_id} was accepted with other content for this site (digest ${kept}, this one ${digest})`;
      results[index] = { index, event_id: ev.event_id, status: 'rejected', code: 'GW_ERR_EVENT_ID_CONFLICT', reason };
      records.push(d.deadLetters.record({ code: 'GW_ERR_EVENT_ID_CONFLICT', reason, parsed: ev, received: receivedOf(index), siteId, index, digests: { kept, refused: digest } }, ev.visitor_id));
      rejectedCodes.push('GW_ERR_EVENT_ID_CONFLICT');
    };

    const accept = (index: number, ev: ClientEvent, key: string, digest: string) => {
      if (bot === 'drop') {
        results[index] = { index, event_id: ev.event_id, status: 'dropped', code: 'GW_BOT_DROPPED', reason: 'user agent is a bot (BOT_POLICY=drop)' };
        dropped++;
        return;
      }
      const topic = bot === 'route' ? botTopic : topicFor(ev.type, d.topicPrefix);
      records.push({ topic, key: ev.visitor_id, value: enrichedJson(ev, ctx) });
      acceptedIds.push(ev.event_id);
      acceptedKeys.push(key);
      acceptedDigests.push(digest);
      acceptedTypes.push(ev.type);
      results[index] = { index, event_id: ev.event_id, status: 'accepted' };
    };

    for (let index = 0; index < events.length; index++) {
      const raw = events[index];
      let v = d.validate(raw);
      if (v.ok) {
        const late = eventTimeRefusal(v.event.ts, input.sentAt, receivedAt, d.timeWindow);
        if (late) v = { ok: false, code: 'GW_ERR_EVENT_TIME_OUT_OF_RANGE', reason: late };
      }
      if (!v.ok) {
        const obj = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
        results[index] = { index, event_id: clip(obj?.event_id, 64), status: 'rejected', code: v.code, reason: v.reason };
        records.push(d.deadLetters.record({ code: v.code, reason: v.reason, parsed: raw, received: receivedOf(index), siteId, index }, clip(obj?.visitor_id, 128) || 'invalid'));
        rejectedCodes.push(v.code);
        continue;
      }
      const ev = v.event;
      const key = identityOf(siteId, ev.event_id);
      const digest = digestOf(index, ev);
      const kept = inBatch.get(key) ?? d.recent.digest(key, receivedAt);
      if (kept !== undefined) {
        seenBefore(index, ev, kept, digest);
        continue;
      }
      inBatch.set(key, digest);
      const pending = d.recent.pending(key);
      if (pending) {
        // Its original is on its way to Kafka: wait for the outcome rather than send it twice.
        deferred.push([index, ev, key, digest]);
        waits.add(pending);
        continue;
      }
      accept(index, ev, key, digest);
    }

    // Claim the ids this request sends before waiting on anything: a third request carrying one
    // of them then waits for this one instead of producing a second copy.
    const claims = acceptedKeys.length > 0 ? [d.recent.begin([...acceptedKeys], [...acceptedDigests])] : [];
    const settle = (acked: boolean) => {
      for (const finish of claims) finish(acked);
    };

    if (deferred.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const settled = await Promise.race([
        Promise.all(waits).then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), d.waitMs))),
      ]);
      clearTimeout(timer);
      const claimed = acceptedKeys.length;
      for (const [index, ev, key, digest] of deferred) {
        // Still undecided (Kafka slow, or yet another copy in flight): 503, and the client retries.
        if (!settled || d.recent.pending(key)) {
          settle(false);
          throw d.delivery.retryLater('the same events are still on their way to Kafka');
        }
        const kept = d.recent.digest(key);
        if (kept !== undefined) seenBefore(index, ev, kept, digest);
        else accept(index, ev, key, digest);
      }
      if (acceptedKeys.length > claimed) claims.push(d.recent.begin(acceptedKeys.slice(claimed), acceptedDigests.slice(claimed)));
    }

    if (records.length > 0) await d.delivery.send(records, log, settle);
    else settle(false);

    // Counted once Kafka has them, so a 503 and its retry do not count twice.
    const m = d.metrics;
    for (const [t, n] of tally(acceptedTypes)) m.accepted.inc({ type: t }, n);
    for (const [c, n] of tally(rejectedCodes)) {
      m.rejected.inc({ code: c }, n);
      m.deadLetters.inc({ code: c }, n);
    }
    if (bot) m.bots.inc({ action: bot === 'drop' ? 'dropped' : bot === 'route' ? 'routed' : 'flagged' }, bot === 'drop' ? dropped : acceptedIds.length);
    if (dropped) m.dropped.inc({ reason: 'bot' }, dropped);
    const duplicate = events.length - acceptedIds.length - rejectedCodes.length - dropped;
    if (duplicate) m.duplicates.inc(duplicate);
    m.dedupEntries.set(d.recent.size);

    const accepted = acceptedIds.length;
    const rejected = rejectedCodes.length;
    const status = rejected === 0 ? 200 : rejected === events.length ? 400 : 207;
    // The short answer for the common case: nothing to say about any single event.
    const body: IngestReply['body'] = accepted === events.length && !input.wantResults ? { accepted, duplicate, rejected, dropped } : { accepted, duplicate, rejected, dropped, results };
    if (status === 400) body.error = { code: 'GW_ERR_ALL_EVENTS_INVALID', message: GW_ERRORS.GW_ERR_ALL_EVENTS_INVALID.message };
    return { status, body };
  };
}
export type Ingest = ReturnType<typeof createIngest>;
