import { UAParser } from 'ua-parser-js';
import { isbot } from 'isbot';

export interface UaInfo {
  browser: string | null;
  browser_version: string | null;
  os: string | null;
  os_version: string | null;
  device_type: string;
  device_vendor: string | null;
  device_model: string | null;
  is_bot: boolean;
}

const blank = (s: string | undefined): string | null => (s ? s : null);

export function parseUserAgent(ua: string): UaInfo {
  const r = new UAParser(ua).getResult();
  const bot = ua ? isbot(ua) : false;
  return {
    browser: blank(r.browser.name),
    browser_version: blank(r.browser.version),
    os: blank(r.os.name),
    os_version: blank(r.os.version),
    // ua-parser leaves desktop devices untyped; bots get their own type so KPIs can exclude them.
    device_type: bot ? 'bot' : (r.device.type ?? (ua ? 'desktop' : 'unknown')),
    device_vendor: blank(r.device.vendor),
    device_model: blank(r.device.model),
    is_bot: bot,
  };
}

/**
 * Parsing a user agent costs tens of microseconds and a site sees few distinct ones,
 * so results are cached. The cache is bounded: when full it starts over.
 */
export function cachedUserAgentParser(maxEntries = 10_000): (ua: string) => UaInfo {
  const cache = new Map<string, UaInfo>();
  return (ua) => {
    let hit = cache.get(ua);
    if (!hit) {
      if (cache.size >= maxEntries) cache.clear();
      hit = parseUserAgent(ua);
      cache.set(ua, hit);
    }
    return hit;
  };
}
