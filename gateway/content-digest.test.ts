import { expect, test } from 'vitest';
import { contentDigest } from './content-digest.js';

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
});
