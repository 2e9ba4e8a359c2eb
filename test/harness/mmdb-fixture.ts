import { isIPv4 } from 'node:net';

/**
 * A minimal MaxMind DB writer (format spec: maxmind.github.io/MaxMind-DB), enough to build a
 * small IPv6 City-shaped database in a test, so the mmdb geo provider is tested through the
 * real `maxmind` reader without shipping a licensed GeoLite2 file.
 */
type Value = string | number | boolean | Value[] | { [k: string]: Value };

function sizeBytes(type: number, size: number): Buffer {
  const ext = type > 7;
  const t = ext ? 0 : type;
  let head: number[];
  if (size < 29) head = [(t << 5) | size];
  else if (size < 29 + 256) head = [(t << 5) | 29, size - 29];
  else if (size < 285 + 65536) head = [(t << 5) | 30, (size - 285) >> 8, (size - 285) & 0xff];
  else {
    const s = size - 65821;
    head = [(t << 5) | 31, (s >> 16) & 0xff, (s >> 8) & 0xff, s & 0xff];
  }
  if (ext) head.splice(1, 0, type - 7);
  return Buffer.from(head);
}

export function encode(v: Value): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([sizeBytes(2, b.length), b]);
  }
  if (typeof v === 'boolean') return sizeBytes(14, v ? 1 : 0);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 32) {
      const bytes: number[] = [];
      for (let x = v; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
      return Buffer.concat([sizeBytes(6, bytes.length), Buffer.from(bytes)]);
    }
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return Buffer.concat([sizeBytes(3, 8), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([sizeBytes(11, v.length), ...v.map(encode)]);
  const entries = Object.entries(v);
  return Buffer.concat([sizeBytes(7, entries.length), ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
}

function bitsOf(cidr: string): number[] {
  const [addr, lenStr] = cidr.split('/');
  const bytes: number[] = [];
  let prefix = Number(lenStr);
  if (isIPv4(addr)) {
    bytes.push(...new Array(12).fill(0), ...addr.split('.').map(Number));
    prefix += 96;
  } else {
    const [head, tail = ''] = addr.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t].map((g) => parseInt(g, 16));
    for (const g of groups) bytes.push(g >> 8, g & 0xff);
  }
  const bits: number[] = [];
  for (let i = 0; i < prefix; i++) bits.push((bytes[i >> 3] >> (7 - (i & 7))) & 1);
  return bits;
}

/** Builds an IPv6 database (IPv4 under ::/96) mapping each network to its record. */
export function buildMmdb(networks: Record<string, Value>, databaseType = 'Test-City'): Buffer {
  const data: Buffer[] = [];
  let dataLen = 0;
  type Rec = { node: number } | { data: number } | null;
  const nodes: [Rec, Rec][] = [[null, null]];
  for (const [cidr, value] of Object.entries(networks)) {
    const offset = dataLen;
    const enc = encode(value);
    data.push(enc);
    dataLen += enc.length;
    const bits = bitsOf(cidr);
    let n = 0;
    for (let i = 0; i < bits.length; i++) {
      const side = bits[i];
      if (i === bits.length - 1) {
        nodes[n][side] = { data: offset };
        break;
      }
      const next = nodes[n][side];
      if (next && 'node' in next) n = next.node;
      else {
        nodes.push([null, null]);
        nodes[n][side] = { node: nodes.length - 1 };
        n = nodes.length - 1;
      }
    }
  }
  const count = nodes.length;
  const tree = Buffer.alloc(count * 6);
  const value = (r: Rec) => (r === null ? count : 'node' in r ? r.node : count + 16 + r.data);
  nodes.forEach(([l, r], i) => {
    tree.writeUIntBE(value(l), i * 6, 3);
    tree.writeUIntBE(value(r), i * 6 + 3, 3);
  });
  const metadata = encode({
    node_count: count,
    record_size: 24,
    ip_version: 6,
    database_type: databaseType,
    languages: ['en'],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: Math.floor(Date.now() / 1000),
    description: { en: 'test database' },
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...data, Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'), metadata]);
}

/** A City-shaped record as GeoLite2 has them. */
export function cityRecord(country: string, subdivision: string | null, city: string | null, lat: number, lon: number, tz: string): Value {
  const rec: Record<string, Value> = {
    country: { iso_code: country, geoname_id: 1, names: { en: country } },
    location: { latitude: lat, longitude: lon, time_zone: tz, accuracy_radius: 50 },
  };
  if (subdivision) rec.subdivisions = [{ iso_code: subdivision, geoname_id: 2, names: { en: subdivision } }];
  if (city) rec.city = { geoname_id: 3, names: { en: city } };
  return rec;
}
