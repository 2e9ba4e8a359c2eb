import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import cors from '@fastify/cors';
import type { Config } from '../contracts/config.js';
import { GatewayError } from './errors.js';
import { clientKey, WindowLimiter } from './rate-limit.js';
import type { Site, SiteRegistry } from './sites.js';

/**
 * Who may send events: CORS (per site), write keys (401), origins (403) and rate limits per
 * client IP and per site (429 with Retry-After). The checks run in the routes' onRequest
 * hooks, before the body is read, so refused requests cost almost nothing.
 */

declare module 'fastify' {
  interface FastifyRequest {
    /** The site the request is for, once `guard` has let it through. */
    site: Site | null;
    /** `req.ip` once read (clientIp): Fastify's getter walks X-Forwarded-For through proxy-addr on every read. */
    clientIp?: string;
  }
}

/**
 * The client's address as Fastify resolves it (TRUSTED_PROXIES), computed once per request: the
 * guard, the route and the pixel each need it, and each read of `req.ip` parses the forwarded
 * chain and every hop's address again (ipaddr.js, 2 % of the stubbed gateway's CPU, profile of 2 Dec 2026).
 */
export const clientIp = (req: FastifyRequest): string | undefined => (req.clientIp ??= req.ip);

/** The write key: `?site=KEY` (what the SDK and the pixel use: sendBeacon cannot set headers) or `x-site-key`. */
export function siteKeyOf(req: FastifyRequest): string | null {
  const q = (req.query as Record<string, unknown> | undefined)?.site;
  if (typeof q === 'string') return q;
  // `?site=a&site=b`: which one was meant cannot be known; never fall back to no key (open mode).
  if (Array.isArray(q)) throw new GatewayError('GW_ERR_QUERY_REPEATED_KEY', `"site" given ${q.length} times`);
  const h = req.headers['x-site-key'];
  return typeof h === 'string' ? h : null;
}

/** The origin a request comes from: its Origin header, or for image requests (no Origin) its Referer's origin. */
function originOf(req: FastifyRequest, useReferer: boolean): string | null {
  const o = req.headers.origin;
  if (typeof o === 'string' && o) return o;
  if (!useReferer) return null;
  const r = req.headers.referer;
  if (typeof r !== 'string' || !r) return null;
  try {
    const origin = new URL(r).origin;
    return origin === 'null' ? null : origin;
  } catch {
    return null;
  }
}

export interface Guards {
  /** onRequest hooks for an ingest route: per-IP limit, key and origin, per-site limit, in that order. */
  hooks(opts?: { refererAsOrigin?: boolean }): onRequestHookHandler[];
}

const CORS_BASE = {
  methods: ['GET', 'POST', 'OPTIONS'],
  allowedHeaders: ['content-type', 'x-site-key', 'x-request-id'],
  exposedHeaders: ['retry-after', 'x-request-id'],
  maxAge: 86400,
};
const EXPOSED_HEADERS = CORS_BASE.exposedHeaders.join(', ');

export async function registerAccessControl(app: FastifyInstance, cfg: Config, registry: SiteRegistry): Promise<Guards> {
  app.decorateRequest('site', null);
  app.decorateRequest('clientIp', undefined);

  /**
   * CORS, per site: whether a request's Origin may read the answer (a string: the origin to
   * allow), or the error a preflight gets. A preflight names the site in its query string (the
   * SDK puts the key there); one for a header-borne key cannot say which site, so any site's
   * origin passes it and the real request is checked. Only /v1/ routes speak CORS.
   */
  const corsOrigin = (req: FastifyRequest): string | false | GatewayError => {
    const origin = req.headers.origin;
    if (!origin || !req.url.startsWith('/v1/')) return false;
    const preflight = req.method === 'OPTIONS';
    const key = siteKeyOf(req);
    const site = key === null && !registry.open ? null : registry.resolve(key);
    let allowed: boolean;
    if (site) allowed = registry.originAllowed(site, origin);
    else if (key === null) allowed = registry.anySiteAllows(origin);
    else return preflight ? new GatewayError('GW_ERR_UNKNOWN_SITE') : false;
    if (!allowed) return preflight ? new GatewayError('GW_ERR_ORIGIN_FORBIDDEN', `${origin} may not send events${site ? ` for site ${site.siteId || '(none)'}` : ''}`) : false;
    return origin;
  };

  // Preflights (OPTIONS) are answered by @fastify/cors, registered in a context of its own so that
  // its hook runs for them only: for every other request it spread two option objects and parsed
  // the Vary header (4 % of the stubbed gateway's CPU, profile of 2 Dec 2026). Those get the same
  // headers from the hook below.
  await app.register(async (preflights) => {
    await preflights.register(cors, {
      hideOptionsRoute: true,
      delegator: (req, cb) => {
        const o = corsOrigin(req);
        if (o instanceof GatewayError) cb(o);
        else cb(null, o === false ? { origin: false } : { ...CORS_BASE, origin: o });
      },
    });
  });
  app.addHook('onRequest', (req, reply, done) => {
    if (req.method === 'OPTIONS') {
      done();
      return;
    }
    let o: string | false | GatewayError;
    try {
      o = corsOrigin(req);
    } catch (err) {
      done(err as Error);
      return;
    }
    // What @fastify/cors writes for a request that is not a preflight (its delegator's origin is never static: always Vary).
    reply.header('vary', 'Origin');
    if (typeof o === 'string') reply.header('access-control-allow-origin', o).header('access-control-expose-headers', EXPOSED_HEADERS);
    done();
  });

  const windowMs = cfg.gatewayRateLimitWindowS * 1000;
  const perIp = cfg.gatewayRateLimitIp > 0 ? new WindowLimiter(cfg.gatewayRateLimitIp, windowMs) : null;
  const perSite = cfg.gatewayRateLimitSite > 0 ? new WindowLimiter(cfg.gatewayRateLimitSite, windowMs) : null;

  const limited = (limiter: WindowLimiter, key: string, what: string) => {
    const retryAfter = limiter.hit(key);
    if (retryAfter > 0) throw new GatewayError('GW_ERR_RATE_LIMITED', `${what} limit of ${limiter.max} requests per ${cfg.gatewayRateLimitWindowS} s`, retryAfter);
  };

  return {
    hooks({ refererAsOrigin = false } = {}) {
      // One hook for the three checks, callback-style: an async hook costs a promise and a turn per
      // request. What it throws reaches the route's error handler as a rejection would.
      const guard: onRequestHookHandler = (req, _reply, done) => {
        // Node forgets a socket's address once it is closed: a client gone before its request
        // reaches the loop (common under overload) has no IP to limit, anonymise or locate.
        const ip = clientIp(req);
        if (ip === undefined) throw new GatewayError('GW_ERR_CLIENT_CLOSED');
        if (perIp) limited(perIp, clientKey(ip), 'per-IP');
        const key = siteKeyOf(req);
        const site = registry.resolve(key);
        if (!site) throw new GatewayError('GW_ERR_UNKNOWN_SITE', key === null ? 'pass ?site=KEY or the x-site-key header' : undefined);
        const origin = originOf(req, refererAsOrigin);
        // No Origin: not a browser page (curl, a server, an old client); the key alone decides.
        if (origin !== null && !registry.originAllowed(site, origin)) {
          throw new GatewayError('GW_ERR_ORIGIN_FORBIDDEN', `${origin} may not send events for site ${site.siteId || '(none)'}`);
        }
        req.site = site;
        if (perSite) limited(perSite, site.siteId, 'per-site');
        done();
      };
      return [guard];
    },
  };
}
