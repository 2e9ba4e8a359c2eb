import geoip from 'geoip-lite';

export interface GeoInfo {
  country: string | null;
  region: string | null;
  city: string | null;
  timezone: string | null;
  /** "lat,lon" of the city (or country) centre. */
  location: string | null;
}

/** Turns a full (not yet anonymised) IP address into coarse geography. */
export interface GeoProvider {
  lookup(ip: string): GeoInfo | null;
}

const blank = (s: string | undefined): string | null => (s ? s : null);

/** geoip-lite's bundled GeoLite2 data (MaxMind licence; see README). */
export function geoipLiteProvider(): GeoProvider {
  return {
    lookup(ip) {
      const r = geoip.lookup(ip);
      if (!r) return null;
      const [lat, lon] = r.ll ?? [];
      return {
        country: blank(r.country),
        region: blank(r.region),
        city: blank(r.city),
        timezone: blank(r.timezone),
        location: typeof lat === 'number' && typeof lon === 'number' && (lat !== 0 || lon !== 0) ? `${lat},${lon}` : null,
      };
    },
  };
}

/** The longest textual IP address (IPv6 with an embedded IPv4 address is 45 characters), with room for a zone. */
const MAX_IP_CHARS = 64;

/**
 * `provider` with its answers kept for the addresses seen lately: a visitor's browser sends a
 * batch every few seconds from the same address, and a geoip-lite look-up costs about 2 µs (its
 * IP parsing and the strings it makes; 2-4 % of the gateway's own work, profile of 2 Dec 2026).
 * Two generations of at most `max` / 2 addresses each: a hit in the older one moves the address to
 * the newer; a full newer one becomes the older and the older one is dropped whole, so an
 * address read in the last `max` / 2 look-ups is always kept and nothing is walked to evict.
 * Answers never change while the process runs (the providers load their data once).
 */
export function cachedGeo(provider: GeoProvider, max = 20_000): GeoProvider {
  const half = Math.max(1, Math.floor(max / 2));
  let current = new Map<string, GeoInfo | null>();
  let previous = new Map<string, GeoInfo | null>();
  return {
    lookup(ip) {
      // The address may come from X-Forwarded-For: anything longer than an IP address is not kept.
      if (ip.length > MAX_IP_CHARS) return provider.lookup(ip);
      let hit = current.get(ip);
      if (hit !== undefined) return hit;
      hit = previous.get(ip);
      if (hit === undefined) hit = provider.lookup(ip);
      if (current.size >= half) {
        previous = current;
        current = new Map();
      }
      current.set(ip, hit);
      return hit;
    },
  };
}
