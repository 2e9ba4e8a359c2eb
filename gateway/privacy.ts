import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import { ConfigError } from '../contracts/config.js';

/**
 * Keyed hashing of user ids (USER_ID_HASH_KEY): HMAC-SHA256 in hex. Stable for a key, so
 * one user's events still join up downstream, but the id cannot be recovered or guessed
 * by hashing candidate ids without the key. Cached: a site sees few distinct ids per minute.
 */
export function userIdHasher(key: string, maxEntries = 50_000): ((id: string) => string) | undefined {
  if (!key) return undefined;
  const cache = new Map<string, string>();
  return (id) => {
    let h = cache.get(id);
    if (h === undefined) {
      if (cache.size >= maxEntries) cache.clear();
      h = createHmac('sha256', key).update(id).digest('hex');
      cache.set(id, h);
    }
    return h;
  };
}

/**
 * TRUSTED_PROXIES as Fastify's trustProxy: the addresses / CIDRs whose X-Forwarded-For is
 * believed (proxy-addr walks the chain from the socket back through trusted hops). Empty:
 * false, so req.ip is the socket address and a client cannot forge its IP with a header.
 */
export function trustProxyOption(list: readonly string[]): false | string[] {
  if (list.length === 0) return false;
  for (const entry of list) {
    const [addr, bits, extra] = entry.split('/');
    const family = isIP(addr);
    const okBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (!family || !okBits || extra !== undefined) {
      throw new ConfigError(`TRUSTED_PROXIES: "${entry}" is not an IP address or CIDR (e.g. 10.0.0.0/8, ::1)`);
    }
  }
  return [...list];
}
