import { createHash } from 'node:crypto';
import { expect, test } from 'vitest';
import { sha1Hex } from './sha1.js';

const nodeSha1 = (s: string) => createHash('sha1').update(s).digest('hex');

test('the FIPS 180 examples', () => {
  expect(sha1Hex('')).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
  expect(sha1Hex('abc')).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
  expect(sha1Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe('84983e441c3bd26ebaae4aa1f95129e5e54670f1');
});

test('the same digest as node:crypto for every length around the block boundaries and for non-ASCII text', () => {
  for (let n = 0; n < 200; n++) {
    const s = 'x'.repeat(n);
    expect(sha1Hex(s), `length ${n}`).toBe(nodeSha1(s));
  }
  for (const s of ['2026-11-22T10:00:00.000Z\u0000https://shop.example/p/1?q=é\u0000FR\u00002', '日本語のURL/パス', '🛒'.repeat(40), 'a\u0000b'.repeat(1000)]) {
    expect(sha1Hex(s)).toBe(nodeSha1(s));
  }
});
