import { expect, test } from 'vitest';
import { contentDigest, digestBytes, digestText, hash64, hash64Joined, lanes } from './content-digest.js';

test('contentDigest: the same text gives the same digest wherever it sits; any change of one character, order or length gives another', () => {
  const ev = '{"type":"page_view","event_id":"abcdefgh12","url":"https://shop.example/a?x=1","ts":1764547200000}';
  const d = contentDigest(ev);
  expect(d).toMatch(/^[0-9a-f]{16}$/);
  expect(contentDigest(`[${ev},${ev}]`, 1, 1 + ev.length)).toBe(d);
  expect(contentDigest(`[${ev},${ev}]`, 2 + ev.length, 2 + 2 * ev.length)).toBe(d);
  const variants = new Set<string>([ev]);
  for (let i = 0; i < ev.length; i++) {
    for (const c of ['0', 'z', '"', '\u00e9', '\ud83d']) variants.add(ev.slice(0, i) + c + ev.slice(i + 1));
    variants.add(ev.slice(0, i) + ev.slice(i + 1));
    variants.add(ev.slice(0, i) + ev[i] + ev.slice(i));
  }
  // Every distinct text has a digest of its own.
  expect(variants.size).toBeGreaterThan(ev.length * 5);
  expect(new Set([...variants].map((v) => contentDigest(v))).size).toBe(variants.size);
  expect(contentDigest('ab')).not.toBe(contentDigest('ba'));
  expect(contentDigest('')).not.toBe(contentDigest('\u0000'));
  // A lone surrogate is not replaced (as U+FFFD, TextEncoder's way) before digesting.
  expect(contentDigest('a\ud83d')).not.toBe(contentDigest('a\ufffd'));
  expect(contentDigest('a\ud83d')).not.toBe(contentDigest('a\ude00'));
});

test.each([
  ['', 0],
  ['a', 0],
  ['abc', 0],
  ['abcd', 0],
  ['{"type":"page_view","event_id":"abcdefgh12"}', 0],
  ['{"title":"Tassen für Kaffee ☕ 😀","x":"\u00e9"}', 0],
  ['{"t":"日本語のタイトル","u":"ü"}', 3],
  ['€', 5],
  // Longer than any text digested before in this process: the scratch its UTF-8 is written to grows.
  [`{"t":"${'é'.repeat(3000)}"}`, 1],
])('digestBytes of the UTF-8 bytes of %j (at offset %i of a buffer) is contentDigest of the text', (text, at) => {
  const bytes = Buffer.concat([Buffer.alloc(at, 0x7b), Buffer.from(text), Buffer.from('}]')]);
  const out = new Int32Array(4);
  digestBytes(new DataView(bytes.buffer, bytes.byteOffset, bytes.length), at, at + Buffer.byteLength(text), out, 1);
  expect(digestText(out[2], out[3])).toBe(contentDigest(text));
  expect([out[0], out[1]]).toEqual([0, 0]);
});

test('hash64Joined(head, tail) is hash64 of head, U+0000 and tail joined, for any seed', () => {
  const pairs: [string, string][] = [['', ''], ['site', 'evt-1'], ['', 'x'], ['s\u00e9', '\ud83d\ude00'], ['a\u0000b', 'c']];
  for (const seed of [0, 1, -7, 0x7fffffff]) {
    for (const [head, tail] of pairs) {
      const joined = `${head}\u0000${tail}`;
      hash64(joined, 0, joined.length, seed);
      const want = [lanes[0], lanes[1]];
      hash64Joined(head, tail, seed);
      expect([lanes[0], lanes[1]]).toEqual(want);
    }
  }
  hash64Joined('site', 'evt-1', 3);
  const a = [lanes[0], lanes[1]];
  hash64Joined('site', 'evt-2', 3);
  expect([lanes[0], lanes[1]]).not.toEqual(a);
});
