import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Reader, type CityResponse } from 'maxmind';
import { ConfigError } from '../contracts/config.js';
import type { GeoProvider } from './geo.js';
import { unmapIPv4 } from './anonymise-ip.js';

/**
 * Geo from a MaxMind-format database of the user's own (GEOIP_MMDB_PATH): GeoLite2 or
 * GeoIP2 City or Country, DB-IP's mmdb, or any file with the same record shape. Read once
 * into memory at start; restart the gateway to pick up a new file.
 */
export function mmdbGeoProvider(path: string): GeoProvider {
  let reader: Reader<CityResponse>;
  try {
    reader = new Reader<CityResponse>(readFileSync(path));
  } catch (err) {
    throw new ConfigError(`GEOIP_MMDB_PATH: cannot read ${path} as a MaxMind database (${(err as Error).message})`);
  }
  return mmdbReaderProvider(reader);
}

const name = (names: { en?: string } | undefined): string | null => names?.en || null;

export function mmdbReaderProvider(reader: Reader<CityResponse>): GeoProvider {
  return {
    lookup(address) {
      const ip = unmapIPv4(address);
      if (!isIP(ip)) return null;
      let r: CityResponse | null;
      try {
        r = reader.get(ip);
      } catch {
        return null; // e.g. an IPv6 address against an IPv4-only database
      }
      if (!r) return null;
      const country = r.country?.iso_code ?? r.registered_country?.iso_code ?? null;
      const sub = r.subdivisions?.[0]?.iso_code ?? null;
      const loc = r.location;
      const hasLoc = loc && typeof loc.latitude === 'number' && typeof loc.longitude === 'number';
      if (!country && !hasLoc) return null;
      return {
        country,
        region: sub,
        city: name(r.city?.names),
        timezone: loc?.time_zone ?? null,
        location: hasLoc ? `${loc.latitude},${loc.longitude}` : null,
      };
    },
  };
}
