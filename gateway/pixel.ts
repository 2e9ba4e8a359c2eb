import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Validation } from './validate.js';
import type { Ingest } from './ingest.js';
import type { GatewayMetrics } from './metrics.js';
import { clientIp } from './access.js';

/**
 * GET /v1/p.gif: a tracking pixel for pages without JavaScript (or e-mails, AMP, noscript).
 * The query string is one page_view or click event, in the same field names as the JSON API:
 *
 *   <img src="https://gw.example/v1/p.gif?site=KEY&url=https%3A%2F%2Fshop.example%2Fabout" alt="" width="1" height="1">
 *
 * | parameter | default | meaning |
 * | --- | --- | --- |
 * | `site` | (required unless open) | write key |
 * | `type` | `page_view` | `page_view` or `click` |
 * | `url` | the Referer header | page URL (pass it: browsers send only the origin cross-site) |
 * | `referrer` | none | the page's own referrer, if the server that rendered it knows it |
 * | `event_id` | random | 8-64 of A-Z a-z 0-9 _ - (give one to make reloads of the same render count once) |
 * | `visitor_id` | derived | default: keyed hash of day, site, IP and user agent (rotates daily, raw IP never stored) |
 * | `session_id` | the visitor id | |
 * | `ts` | now | client time, epoch ms |
 * | `user_id`, `title`, `language`, `screen`, `viewport`, `utm_source`, `utm_medium`, `utm_campaign`, `utm_term`, `utm_content` | none | as in the JSON API |
 * | `element`, `target_url` | none | click events only |
 * | `engagement_ms` | none | page_view only |
 * | `_`, `cb` | | cache busters, ignored |
 *
 * The answer is always the 1x1 GIF (never cached), also for an invalid event, which is
 * dead-lettered with its reason and counted; only access control (401, 403, 429) and an
 * unavailable Kafka (503) answer otherwise, like the JSON API.
 */

/** The smallest transparent 1x1 GIF (43 bytes). */
export const GIF = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');

const INT_FIELDS = new Set(['ts', 'engagement_ms']);
const IGNORED = new Set(['site', '_', 'cb']);
const PIXEL_TYPES = new Set(['page_view', 'click']);

export interface PixelDeps {
  ingest: Ingest;
  metrics: GatewayMetrics;
  guards: onRequestHookHandler[];
  /** USER_ID_HASH_KEY when set (all gateway instances then derive the same ids), else random per process. */
  visitorKey: string;
}

/** The pixel only takes the two event types a page without JavaScript can have. */
export function pixelValidator(validate: (input: unknown) => Validation): (input: unknown) => Validation {
  return (input) => {
    // `ts=1&ts=2`: which one was meant cannot be known; refused, not guessed (nor taken as an array).
    for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
      if (Array.isArray(v)) return { ok: false, code: 'GW_ERR_PIXEL_REPEATED_KEY', reason: `${JSON.stringify(k.slice(0, 64))} given ${v.length} times` };
    }
    const type = (input as { type?: unknown }).type;
    if (typeof type === 'string' && !PIXEL_TYPES.has(type)) {
      return { ok: false, code: 'GW_ERR_UNKNOWN_EVENT_TYPE', reason: `the pixel takes page_view or click, not ${JSON.stringify(type.slice(0, 64))}` };
    }
    return validate(input);
  };
}

export function registerPixel(app: FastifyInstance, d: PixelDeps): void {
  const key = d.visitorKey || randomBytes(32).toString('hex');

  const visitorOf = (req: FastifyRequest, siteId: string, receivedAt: number) => {
    const day = new Date(receivedAt).toISOString().slice(0, 10);
    const h = createHmac('sha256', key).update(`${day}|${siteId}|${clientIp(req)}|${req.headers['user-agent'] ?? ''}`).digest('base64url');
    return `px-${h.slice(0, 22)}`;
  };

  app.get('/v1/p.gif', { onRequest: d.guards, exposeHeadRoute: false }, async (req, reply) => {
    const receivedAt = Date.now();
    const query = (req.query ?? {}) as Record<string, unknown>;
    // A null-prototype object: whatever keys arrive (__proto__ too) stay plain data.
    const ev: Record<string, unknown> = Object.create(null);
    for (const k of Object.keys(query)) {
      const v = query[k];
      if (IGNORED.has(k)) continue;
      ev[k] = INT_FIELDS.has(k) && typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : v;
    }
    ev.type ??= 'page_view';
    ev.event_id ??= randomUUID();
    ev.ts ??= receivedAt;
    if (ev.url === undefined && typeof req.headers.referer === 'string') ev.url = req.headers.referer;
    const siteId = req.site?.siteId ?? '';
    if (ev.visitor_id === undefined) ev.visitor_id = visitorOf(req, siteId, receivedAt);
    ev.session_id ??= ev.visitor_id;

    const out = await d.ingest({
      wantResults: true,
      events: [ev],
      sentAt: null,
      site: req.site,
      ip: clientIp(req) ?? '',
      userAgent: req.headers['user-agent'] ?? '',
      receivedAt,
      log: req.log,
    });
    d.metrics.pixels.inc({ outcome: out.body.results?.[0]?.status ?? 'unknown' });
    return reply
      .status(200)
      .header('content-type', 'image/gif')
      .header('cache-control', 'no-store, no-cache, must-revalidate, private, max-age=0')
      .header('x-event-status', out.body.results?.[0]?.status ?? 'unknown')
      .send(GIF);
  });
}
