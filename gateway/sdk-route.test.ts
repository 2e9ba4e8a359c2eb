import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { acceptedEncodings } from './sdk-route.js';
import { harness, type Harness } from '../test/harness/gateway-app.js';

// Stand-in builds: the route must serve whatever bytes are in the directory, hashed independently here.
const dir = mkdtempSync(join(tmpdir(), 'sdk-route-'));
const core = Buffer.from(`(function(){var q=window.clickstream;/*${'x'.repeat(3000)}*/})();\n`);
const full = Buffer.from(`(function(){var full=1;/*${'y'.repeat(5000)}*/})();\n`);
writeFileSync(join(dir, 'clickstream.min.js'), core);
writeFileSync(join(dir, 'clickstream.full.min.js'), full);
const hash16 = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 16);
const sri = (b: Buffer) => `sha384-${createHash('sha384').update(b).digest('base64')}`;

let h: Harness | undefined;
afterEach(async () => {
  await h?.app.close();
  h = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const get = (url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') => h!.app.inject({ method, url, headers });

describe('GET /sdk/', () => {
  test('the stable alias: the bytes as built, short cache, ETag, CORS for cross-origin SRI loads', async () => {
    h = await harness({ gatewaySdkDir: dir, sites: 'shop:https://shop.example' });
    const res = await get('/sdk/clickstream.min.js', { origin: 'https://elsewhere.example' });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(core)).toBe(true);
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.headers['cache-control']).toBe('public, max-age=300');
    expect(res.headers.etag).toBe(`"${hash16(core)}"`);
    expect(res.headers.vary).toBe('Accept-Encoding');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
    expect(res.headers['content-encoding']).toBeUndefined();
  });

  test('the versioned path is cached for a year, immutable; another hash is a 404 naming the current one', async () => {
    h = await harness({ gatewaySdkDir: dir });
    const res = await get(`/sdk/${hash16(full)}/clickstream.full.min.js`);
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(full)).toBe(true);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const stale = await get('/sdk/0123456789abcdef/clickstream.full.min.js');
    expect(stale.statusCode).toBe(404);
    expect(stale.json().error.code).toBe('GW_ERR_NOT_FOUND');
    expect(stale.json().error.message).toContain(`/sdk/${hash16(full)}/clickstream.full.min.js`);
    expect(stale.headers['cache-control']).toBeUndefined();
  });

  test('brotli, then gzip, when the client takes them; q=0 refuses a coding', async () => {
    h = await harness({ gatewaySdkDir: dir });
    const br = await get('/sdk/clickstream.min.js', { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.etag).toBe(`"${hash16(core)}-br"`);
    expect(brotliDecompressSync(br.rawPayload).equals(core)).toBe(true);
    expect(br.rawPayload.length).toBeLessThan(core.length / 10);
    const gz = await get('/sdk/clickstream.min.js', { 'accept-encoding': 'gzip, br;q=0' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.rawPayload).equals(core)).toBe(true);
    const none = await get('/sdk/clickstream.min.js', { 'accept-encoding': 'identity' });
    expect(none.headers['content-encoding']).toBeUndefined();
    expect(none.rawPayload.equals(core)).toBe(true);
  });

  test('If-None-Match with the current tag (any coding, weak or strong) is a 304; an old tag gets the script', async () => {
    h = await harness({ gatewaySdkDir: dir });
    for (const tag of [`"${hash16(core)}"`, `W/"${hash16(core)}-gz"`, `"nope", "${hash16(core)}-br"`]) {
      const res = await get('/sdk/clickstream.min.js', { 'if-none-match': tag, 'accept-encoding': 'br' });
      expect(res.statusCode, tag).toBe(304);
      expect(res.rawPayload.length).toBe(0);
      expect(res.headers.etag).toBe(`"${hash16(core)}-br"`);
      expect(res.headers['cache-control']).toBe('public, max-age=300');
    }
    const old = await get('/sdk/clickstream.min.js', { 'if-none-match': '"0123456789abcdef"' });
    expect(old.statusCode).toBe(200);
    expect(old.rawPayload.equals(core)).toBe(true);
  });

  test('HEAD answers the headers only', async () => {
    h = await harness({ gatewaySdkDir: dir });
    const res = await get('/sdk/clickstream.min.js', {}, 'HEAD');
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe(`"${hash16(core)}"`);
    expect(res.rawPayload.length).toBe(0);
  });

  test('the manifest lists each script with its versioned path, SRI hash and sizes', async () => {
    h = await harness({ gatewaySdkDir: dir });
    const res = await get('/sdk/manifest.json');
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-cache');
    const m = res.json();
    expect(m.missing).toEqual([]);
    expect(m.scripts['clickstream.min.js']).toMatchObject({
      path: `/sdk/${hash16(core)}/clickstream.min.js`,
      alias: '/sdk/clickstream.min.js',
      integrity: sri(core),
      bytes: core.length,
    });
    expect(m.scripts['clickstream.full.min.js'].integrity).toBe(sri(full));
    expect(m.scripts['clickstream.min.js'].gzip_bytes).toBeLessThan(core.length);
  });

  test('an unknown script is a 404; a script missing from the build says so', async () => {
    const partial = mkdtempSync(join(tmpdir(), 'sdk-route-partial-'));
    try {
      writeFileSync(join(partial, 'clickstream.min.js'), core);
      h = await harness({ gatewaySdkDir: partial });
      expect((await get('/sdk/clickstream.min.js')).statusCode).toBe(200);
      const missing = await get('/sdk/clickstream.full.min.js');
      expect(missing.statusCode).toBe(404);
      expect(missing.json().error.code).toBe('GW_ERR_SDK_NOT_BUILT');
      expect(h.logs.some((l) => String(l.msg).includes('SDK scripts not built'))).toBe(true);
      expect((await get('/sdk/manifest.json')).json().missing).toEqual(['clickstream.full.min.js']);
      const unknown = await get('/sdk/evil.js');
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().error.code).toBe('GW_ERR_NOT_FOUND');
    } finally {
      rmSync(partial, { recursive: true, force: true });
    }
  });

  test('GATEWAY_SERVE_SDK=false: no /sdk/ routes at all', async () => {
    h = await harness({ gatewaySdkDir: dir, gatewayServeSdk: false });
    const res = await get('/sdk/clickstream.min.js');
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('GW_ERR_NOT_FOUND');
    expect((await get(`/sdk/${hash16(core)}/clickstream.min.js`)).statusCode).toBe(404);
  });
});

test('Accept-Encoding parsing', () => {
  expect([...acceptedEncodings('gzip, deflate, br')]).toEqual(['gzip', 'deflate', 'br']);
  expect([...acceptedEncodings('br;q=0, gzip;q=0.5')]).toEqual(['gzip']);
  expect([...acceptedEncodings(' GZIP ; q=1 ')]).toEqual(['gzip']);
  expect([...acceptedEncodings(undefined)]).toEqual([]);
});
