import { UAParser } from 'ua-parser-js';
import { isbot } from 'isbot';
import type { EnrichedEvent } from '../contracts/event-schema.js';

/** The enriched event's fields read from the user agent (device_type: what the device is, independent of is_bot). */
export type UaInfo = Pick<EnrichedEvent, 'browser' | 'browser_version' | 'os' | 'os_version' | 'device_type' | 'device_vendor' | 'device_model' | 'is_bot'>;

/** ua-parser-js reads only this many characters (its UA_MAX_LENGTH); so do the bot test and the cache. */
export const UA_READ_CHARS = 500;

/** The part of a user agent that decides its result: what the parser reads (leading spaces dropped). */
export function userAgentKey(ua: string): string {
  return ua.length > UA_READ_CHARS ? ua.trimStart().slice(0, UA_READ_CHARS) : ua;
}

/**
 * ua-parser-js returns a name as the user agent wrote it when its pattern is case-insensitive
 * (`Android`, `android`, `ANDROID`); one spelling per name keeps breakdowns to one row.
 */
const CANONICAL_NAMES = [
  'Android', 'iOS', 'iPadOS', 'Mac OS', 'macOS', 'Windows', 'Windows Phone', 'Windows Mobile', 'Linux',
  'Ubuntu', 'Debian', 'Fedora', 'Chrome OS', 'Chromium OS', 'HarmonyOS', 'KaiOS', 'webOS', 'Tizen',
  'BlackBerry', 'Symbian', 'Firefox OS', 'FreeBSD', 'OpenBSD', 'NetBSD', 'Xbox', 'PlayStation',
  'Nintendo', 'Fuchsia', 'Sailfish', 'Chrome', 'Chromium', 'Chrome Headless', 'Chrome WebView',
  'Mobile Chrome', 'Firefox', 'Mobile Firefox', 'Safari', 'Mobile Safari', 'Edge', 'Opera',
  'Opera Mini', 'Opera Mobi', 'Samsung Internet', 'UCBrowser', 'Yandex', 'Vivaldi', 'Brave',
  'DuckDuckGo', 'Silk', 'IE', 'IEMobile', 'MIUI Browser', 'Huawei Browser', 'WebKit', 'Facebook',
  'Instagram', 'WeChat', 'Line', 'TikTok', 'Electron', 'GSA',
];
const canonicalByLower = new Map(CANONICAL_NAMES.map((n) => [n.toLowerCase(), n]));

const titleCase = (s: string): string => s.toLowerCase().replace(/(^|[\s_-])(\p{L})/gu, (_m, sep: string, c: string) => sep + c.toUpperCase());

/** A known name in its one spelling; an unknown one written all in one case gets title case; mixed case is kept. */
export function normaliseName(name: string | undefined): string | null {
  if (!name) return null;
  const known = canonicalByLower.get(name.toLowerCase());
  if (known) return known;
  return name === name.toLowerCase() || name === name.toUpperCase() ? titleCase(name) : name;
}

const DESKTOP_OS = new Set([
  'windows', 'mac os', 'macos', 'linux', 'ubuntu', 'debian', 'fedora', 'chrome os', 'chromium os',
  'freebsd', 'openbsd', 'netbsd', 'solaris', 'mint', 'arch', 'gentoo', 'suse', 'red hat', 'centos',
]);

/**
 * The device type rule, in order: the type ua-parser-js found; else `desktop` when the OS is a
 * desktop OS (ua-parser-js leaves desktops untyped); else `mobile` for iOS and for Android with the
 * `Mobile` token, `tablet` for Android without it (Google's documented convention); else `unknown`.
 * Bots keep the type of the device they claim; the bot flag is its own field.
 */
function deviceType(type: string | undefined, os: string | null, ua: string): string {
  if (type) return type;
  if (!os) return 'unknown';
  const o = os.toLowerCase();
  if (DESKTOP_OS.has(o)) return 'desktop';
  if (o === 'ios') return 'mobile';
  if (o === 'android') return /\bMobile\b/.test(ua) ? 'mobile' : 'tablet';
  return 'unknown';
}

const blank = (s: string | undefined): string | null => (s ? s : null);

export function parseUserAgent(fullUa: string): UaInfo {
  const ua = userAgentKey(fullUa);
  const r = new UAParser(ua).getResult();
  const os = normaliseName(r.os.name);
  return {
    browser: normaliseName(r.browser.name),
    browser_version: blank(r.browser.version),
    os,
    os_version: blank(r.os.version),
    device_type: deviceType(r.device.type, os, ua),
    device_vendor: blank(r.device.vendor),
    device_model: blank(r.device.model),
    is_bot: ua ? isbot(ua) : false,
  };
}

/** Bytes a cached entry holds, roughly: the key's UTF-16 characters, the result's strings, the map and object overhead. */
function entryBytes(key: string, v: UaInfo): number {
  let chars = key.length;
  for (const s of [v.browser, v.browser_version, v.os, v.os_version, v.device_type, v.device_vendor, v.device_model]) chars += s?.length ?? 0;
  return chars * 2 + 300;
}

/**
 * Parsing a user agent costs tens of microseconds and a site sees few distinct ones, so results
 * are cached, keyed on what the parser reads (so 16 KB user agents cost at most 500 characters),
 * bounded by bytes; the least recently used entries go first.
 */
export function cachedUserAgentParser(maxBytes = 8 * 1024 * 1024): ((ua: string) => UaInfo) & { bytes(): number; size(): number } {
  // A Map iterates in insertion order: re-inserting on a hit keeps the least recently used first.
  const cache = new Map<string, UaInfo>();
  let bytes = 0;
  const parse = (ua: string): UaInfo => {
    const key = userAgentKey(ua);
    let hit = cache.get(key);
    if (hit) {
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    hit = parseUserAgent(key);
    const size = entryBytes(key, hit);
    if (size > maxBytes) return hit;
    bytes += size;
    cache.set(key, hit);
    for (const [k, v] of cache) {
      if (bytes <= maxBytes) break;
      cache.delete(k);
      bytes -= entryBytes(k, v);
    }
    return hit;
  };
  return Object.assign(parse, { bytes: () => bytes, size: () => cache.size });
}
