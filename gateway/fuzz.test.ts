/**
 * Property-based fuzz of POST /v1/events against buildApp with the in-memory producer:
 * 10,000+ generated bodies (valid batches, valid events mutated into invalid ones, garbage,
 * deep and huge values, wrong types, prototype-pollution keys). For every one:
 * - never a 5xx, never a crash;
 * - every event reported accepted is on its type topic, enriched, exactly once;
 * - every event reported rejected is on the dead-letter topic with its reason and index;
 * - every duplicate was accepted before; nothing is produced that the answer does not account for;
 * - an event built valid is accepted (or a duplicate), one mutated invalid is rejected;
 * - a body refused whole (bad JSON, bad envelope, too many events) is dead-lettered too.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import fc from 'fast-check';
import { topicFor } from '../contracts/topics.js';
import { harness, type Harness } from '../test/harness/gateway-app.js';
import { UA } from '../test/unit/fixtures.js';
import { anyEvent, epochMs, recentMs, type Kind } from '../test/event-arbitraries.js';

const RUNS = Number(process.env.GATEWAY_FUZZ_RUNS ?? 10_000);
const BODY_LIMIT = 64 * 1024;
const MAX_BATCH = 25;
const DLQ = 'events_dead_letter';

// ---------------------------------------------------------------------------------------------
// Bodies

interface Case {
  body: string;
  contentType: string;
  userAgent: string;
  /** Per event, when the envelope is one we built valid. */
  kinds: Kind[] | null;
}

const SUPPORTED_TYPES = ['application/json', 'text/plain', 'text/plain;charset=UTF-8', 'application/json; charset=utf-8'];
const contentType = fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...SUPPORTED_TYPES) }, { weight: 1, arbitrary: fc.constantFrom('application/xml', 'multipart/form-data') });
const userAgent = fc.constantFrom(UA.iphone, UA.windowsChrome, UA.androidSamsung, UA.googlebot, '', 'x'.repeat(600));
const sentAt = fc.option(fc.oneof({ weight: 4, arbitrary: recentMs }, { weight: 1, arbitrary: epochMs }), { nil: undefined });

const batchCase: fc.Arbitrary<Omit<Case, 'contentType' | 'userAgent'>> = fc
  .tuple(fc.array(anyEvent, { minLength: 1, maxLength: 20 }), sentAt, fc.constantFrom('envelope', 'array', 'single'), fc.boolean())
  .map(([evs, sent, shape, resend]) => {
    // A client resending an event it already sent (same bytes): a duplicate, never a conflict.
    if (resend && evs.length < 25) evs = [...evs, evs[0]];
    const events = evs.map(([e]) => e);
    const kinds = evs.map(([, k]) => k);
    if (shape === 'single' && events.length === 1 && kinds[0] === 'valid') return { body: JSON.stringify(events[0]), kinds };
    if (shape === 'array') return { body: JSON.stringify(events), kinds };
    return { body: JSON.stringify(sent === undefined ? { events } : { sent_at: sent, events }), kinds };
  });

const garbageCase: fc.Arbitrary<Omit<Case, 'contentType' | 'userAgent'>> = fc.oneof(
  fc.jsonValue().map((v) => ({ body: JSON.stringify(v) ?? 'null', kinds: null })),
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => ({ body: s, kinds: null })),
  fc.integer({ min: 1, max: 30_000 }).map((n) => ({ body: '['.repeat(n) + ']'.repeat(n), kinds: null })),
  fc.integer({ min: 1, max: 10_000 }).map((n) => ({ body: `{"events":[${'{"a":'.repeat(n)}1${'}'.repeat(n)}]}`, kinds: null })),
  fc.constantFrom(
    { body: '', kinds: null },
    { body: '{"events": [', kinds: null },
    { body: '{"events": "x"}', kinds: null },
    { body: '{"events": null}', kinds: null },
    { body: '{"events": []}', kinds: null },
    { body: '{"events": [{}], "sent_at": "yesterday"}', kinds: null },
    { body: '{"events": [{}], "sent_at": 1e300}', kinds: null },
    { body: '{"events": [{}], "sent_at": -1}', kinds: null },
    { body: '{"__proto__": {"polluted": true}, "events": [{"__proto__": {"polluted": true}, "type": "page_view"}]}', kinds: null },
    { body: '{"constructor": {"prototype": {"polluted": true}}}', kinds: null },
    { body: '[{"type":"page_view","constructor":{"prototype":{"polluted":true}}}]', kinds: null },
    { body: JSON.stringify({ events: Array.from({ length: MAX_BATCH + 1 }, () => ({})) }), kinds: null },
    { body: JSON.stringify({ events: [{ type: 'page_view', title: 'h'.repeat(BODY_LIMIT) }] }), kinds: null },
    { body: `{"events":[${'1,'.repeat(30_000)}1]}`, kinds: null },
  ),
);

const anyCase: fc.Arbitrary<Case> = fc
  .tuple(fc.oneof({ weight: 7, arbitrary: batchCase }, { weight: 3, arbitrary: garbageCase }), contentType, userAgent)
  .map(([c, ct, ua]) => ({ ...c, contentType: ct, userAgent: ua }));

// ---------------------------------------------------------------------------------------------

const MAX_AGE_MS = 30 * 86_400_000;
const MAX_FUTURE_MS = 600_000;
/** Where event `i` of a body built valid falls against the gateway's event-time window (a minute's slack either side of the edges). */
function timeWindow(body: string, i: number): 'inside' | 'outside' | 'edge' {
  const parsed = JSON.parse(body) as { sent_at?: number; events?: { ts: number }[] } | { ts: number }[];
  const events = Array.isArray(parsed) ? parsed : (parsed.events ?? [parsed as unknown as { ts: number }]);
  const sent = Array.isArray(parsed) ? undefined : parsed.sent_at;
  const now = Date.now();
  const t = sent === undefined ? events[i].ts : now - (sent - events[i].ts);
  const slack = 60_000;
  if (t >= now - MAX_AGE_MS + slack && t <= now + MAX_FUTURE_MS - slack) return 'inside';
  if (t < now - MAX_AGE_MS - slack || t > now + MAX_FUTURE_MS + slack) return 'outside';
  return 'edge';
}

let h: Harness;
beforeAll(async () => {
  // No queue-delay shedding (gatewayMaxQueueDelayMs 0; the harness already turns the loop-lag rule off):
  // this test is about what the gateway answers to the bodies, and a loaded machine's one-second
  // stall made the admission answer a 503 GW_ERR_OVERLOADED, which its overload tests cover.
  h = await harness({ gatewayBodyLimit: BODY_LIMIT, gatewayMaxBatch: MAX_BATCH, logLevel: 'warn', eventMaxAgeDays: MAX_AGE_MS / 86_400_000, eventMaxFutureS: MAX_FUTURE_MS / 1000, gatewayMaxQueueDelayMs: 0 });
});
afterAll(async () => h?.app.close());

const WHOLE_BODY_DEAD_LETTERED = new Set(['GW_ERR_MALFORMED_JSON', 'GW_ERR_BATCH_INVALID', 'GW_ERR_BATCH_TOO_LARGE']);

test(`fuzz: ${RUNS} generated bodies, never a 5xx, every event accounted for`, { timeout: 300_000 }, async () => {
  const accepted = new Set<string>();
  const stats: Record<string, number> = {};
  const count = (k: string) => (stats[k] = (stats[k] ?? 0) + 1);

  await fc.assert(
    fc.asyncProperty(anyCase, fc.boolean(), async (c, askResults) => {
      h.kafka.records = [];
      const res = await h.app.inject({
        method: 'POST',
        // Half the requests ask for per-event results; the others get the short answer when all is accepted.
        url: `/v1/events?site=fuzz${askResults ? '&results=1' : ''}`,
        headers: { 'content-type': c.contentType, 'user-agent': c.userAgent },
        payload: c.body,
      });
      count(String(res.statusCode));
      expect(res.statusCode).toBeLessThan(500);
      const body = res.json() as {
        results?: unknown;
        error?: { code: string };
        accepted: number;
        rejected: number;
        duplicate: number;
        dropped: number;
      };
      const produced = h.kafka.records.map((r) => ({ topic: r.topic, key: r.key, value: JSON.parse(r.value) }));
      const dead = produced.filter((r) => r.topic === DLQ).map((r) => r.value);

      if (typeof body.accepted === 'number' && body.results === undefined) {
        // The short answer: only when every event was accepted and nobody asked for the details.
        count('short');
        expect(askResults).toBe(false);
        expect(res.statusCode).toBe(200);
        expect([body.rejected, body.duplicate, body.dropped]).toEqual([0, 0, 0]);
        if (c.kinds) expect(c.kinds.every((k) => k === 'valid')).toBe(true);
        if (c.kinds) expect(body.accepted).toBe(c.kinds.length);
        expect(dead).toHaveLength(0);
        expect(produced).toHaveLength(body.accepted);
        for (const r of produced) {
          expect(r.topic).toBe(topicFor(r.value.event_type));
          expect(r.key).toBe(r.value.visitor_id);
          accepted.add(r.value.event_id as string);
        }
        return;
      }
      if (!Array.isArray(body.results)) {
        // Refused whole.
        const code = body.error?.code as string;
        expect(code).toMatch(/^GW_ERR_/);
        expect([400, 413, 415]).toContain(res.statusCode);
        if (WHOLE_BODY_DEAD_LETTERED.has(code)) {
          expect(dead).toHaveLength(1);
          expect(dead[0]).toMatchObject({ code, site_id: 'fuzz', index: null });
          expect(dead[0].reason).toBeTruthy();
          expect(dead[0].raw.length).toBeLessThanOrEqual(8192 + 40);
        } else expect(dead).toHaveLength(0);
        expect(produced.length).toBe(dead.length);
        if (!SUPPORTED_TYPES.includes(c.contentType)) expect(code).toBe('GW_ERR_UNSUPPORTED_MEDIA_TYPE');
        else expect(c.kinds === null || code === 'GW_ERR_BODY_TOO_LARGE').toBe(true);
        return;
      }

      const results = body.results as { index: number; event_id: string | null; status: string; code?: string; reason?: string }[];
      if (c.kinds) expect(results).toHaveLength(c.kinds.length);
      expect(body.accepted + body.rejected + body.duplicate + body.dropped).toBe(results.length);
      expect(res.statusCode).toBe(body.rejected === 0 ? 200 : body.rejected === results.length ? 400 : 207);

      const events = produced.filter((r) => r.topic !== DLQ);
      expect(events).toHaveLength(body.accepted);
      expect(dead).toHaveLength(body.rejected);
      const seenInBatch = new Set<string>();
      for (const r of results) {
        count(r.status);
        const kind = c.kinds?.[r.index];
        if (kind === 'valid') {
          // Valid by schema; kept only when its (skew-corrected) time is inside the window.
          const where = timeWindow(c.body, r.index);
          if (where === 'inside' && r.status === 'rejected') {
            // The same id accepted before with other content: a conflict, never a silent duplicate.
            expect(r.code).toBe('GW_ERR_EVENT_ID_CONFLICT');
            expect(accepted.has(r.event_id!) || seenInBatch.has(r.event_id!)).toBe(true);
            count('conflict');
          } else if (where === 'inside') expect(['accepted', 'duplicate']).toContain(r.status);
          if (where === 'outside') expect(r).toMatchObject({ status: 'rejected', code: 'GW_ERR_EVENT_TIME_OUT_OF_RANGE' });
          if (where === 'outside') count('time-refused');
        }
        if (kind === 'invalid') expect(r.status).toBe('rejected');
        if (r.status === 'accepted') {
          const out = events.filter((e) => e.value.event_id === r.event_id);
          expect(out).toHaveLength(1);
          expect(out[0].topic).toBe(topicFor(out[0].value.event_type));
          expect(out[0].key).toBe(out[0].value.visitor_id);
          expect(out[0].value.site_id).toBe('fuzz');
          expect(Number.isNaN(Date.parse(out[0].value.timestamp))).toBe(false);
          accepted.add(r.event_id!);
          seenInBatch.add(r.event_id!);
        } else if (r.status === 'rejected') {
          expect(r.code).toMatch(/^GW_ERR_/);
          expect(r.reason).toBeTruthy();
          const dl = dead.filter((d) => d.index === r.index);
          expect(dl).toHaveLength(1);
          expect(dl[0]).toMatchObject({ code: r.code, reason: r.reason, site_id: 'fuzz' });
          if (r.code === 'GW_ERR_EVENT_ID_CONFLICT') expect(dl[0].digests.kept).not.toBe(dl[0].digests.refused);
          expect(typeof dl[0].raw).toBe('string');
          expect(Number.isNaN(Date.parse(dl[0].received_at))).toBe(false);
        } else if (r.status === 'duplicate') {
          expect(accepted.has(r.event_id!) || seenInBatch.has(r.event_id!)).toBe(true);
        } else {
          throw new Error(`unexpected status ${r.status}`);
        }
      }
    }),
    { numRuns: RUNS },
  );

  // Nothing leaked into prototypes, and the gateway still answers.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.keys(Object.prototype)).toEqual([]);
  expect((await h.app.inject('/healthz')).statusCode).toBe(200);
  // The generators reached every outcome.
  for (const k of ['200', '207', '400', '413', '415', 'accepted', 'rejected', 'duplicate', 'short', 'time-refused', 'conflict']) expect(stats[k] ?? 0, `${k} never happened: ${JSON.stringify(stats)}`).toBeGreaterThan(0);
});
