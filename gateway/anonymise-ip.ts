import { isIPv4, isIPv6 } from 'node:net';

/**
 * Truncates an address before it leaves the gateway: IPv4 keeps 24 bits (last octet zeroed),
 * IPv6 keeps 48 bits (last 80 zeroed), as Google Analytics and Matomo do. IPv4-mapped IPv6
 * addresses are treated as IPv4. Returns null for anything that is not an IP address.
 */
export function anonymiseIp(ip: string | undefined | null): string | null {
  if (!ip) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const v4 = mapped ? mapped[1] : ip;
  if (isIPv4(v4)) return v4.replace(/\.\d+$/, '.0');
  if (!isIPv6(ip)) return null;
  const groups = expandIPv6(ip);
  return compressIPv6([...groups.slice(0, 3), 0, 0, 0, 0, 0]);
}

/** The unmapped IPv4 form of an address when it has one (for geo lookups). */
export function unmapIPv4(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped ? mapped[1] : ip;
}

function expandIPv6(ip: string): number[] {
  let addr = ip.split('%')[0];
  // A trailing dotted quad (e.g. 64:ff9b::1.2.3.4) stands for the last two groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (quad) {
    const [a, b, c, d] = quad[1].split('.').map(Number);
    addr = addr.slice(0, -quad[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = addr.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const fill = addr.includes('::') ? 8 - h.length - t.length : 0;
  return [...h, ...Array(fill).fill('0'), ...t].map((g) => parseInt(g, 16));
}

function compressIPv6(groups: number[]): string {
  // Longest run of zero groups becomes "::" (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
