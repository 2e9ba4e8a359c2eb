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
