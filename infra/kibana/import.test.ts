/**
 * `npm run kibana:import`: the rewrite for other settings, and the request it sends, checked
 * against a stand-in Kibana (a plain HTTP server that records what it receives).
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SavedObject } from './data-views.js';
import { KIBANA_NDJSON, renderNdjson, savedObjects } from './saved-objects.js';
import { authHeader, customize, importSavedObjects, importUrl, parseNdjson } from './import.js';

const shipped = parseNdjson(readFileSync(KIBANA_NDJSON, 'utf8'));

describe('customize', () => {
  test('the defaults (clickstream, 60 s windows) change nothing', () => {
    expect(customize(shipped, { indexPrefix: 'clickstream', tumblingS: 60 })).toEqual(shipped);
  });

  test('another prefix and window size: index patterns, ids, references, KPI window kind and interval', () => {
    const out = customize(shipped, { indexPrefix: 'shop', tumblingS: 30 });
    const keys = new Set(out.map((o) => `${o.type}:${o.id}`));
    for (const o of out) {
      expect(o.id.startsWith('shop-'), o.id).toBe(true);
      for (const r of o.references) expect(keys.has(`${r.type}:${r.id}`), `${o.id} -> ${r.id}`).toBe(true);
    }
    expect(out.filter((o) => o.type === 'index-pattern').map((o) => o.attributes.title).sort()).toEqual(['shop-alerts', 'shop-events-*', 'shop-kpis', 'shop-sessions', 'shop-url-stats']);
    const json = JSON.stringify(out);
    expect(json).not.toContain('tumbling_1m');
    expect(json).toContain('window_kind : \\"tumbling_30s\\"');
    const intervals = out
      .filter((o) => o.type === 'lens')
      .flatMap((o) => Object.values((o.attributes.state as { datasourceStates: { formBased: { layers: Record<string, { columns: Record<string, { operationType: string; sourceField?: string; params?: { interval?: string } }> }> } } }).datasourceStates.formBased.layers))
      .flatMap((l) => Object.values(l.columns))
      .filter((c) => c.operationType === 'date_histogram')
      .map((c) => `${c.sourceField}=${c.params?.interval}`);
    expect(new Set(intervals)).toEqual(new Set(['window_start=30s', 'raised_at=auto', 'timestamp=auto']));
    expect(out.find((o) => o.type === 'dashboard')!.attributes.title).toBe('Clickstream KPIs [shop]');
    // The shipped objects are left alone.
    expect(renderNdjson(shipped)).toBe(renderNdjson(savedObjects()));
  });
});

describe('request', () => {
  test.each([
    [{ kibanaUrl: 'http://k:5601' }, 'http://k:5601/api/saved_objects/_import?overwrite=true'],
    [{ kibanaUrl: 'https://k.example/kibana/' }, 'https://k.example/kibana/api/saved_objects/_import?overwrite=true'],
    [{ kibanaUrl: 'http://k:5601', space: 'ops team' }, 'http://k:5601/s/ops%20team/api/saved_objects/_import?overwrite=true'],
  ])('%j -> %s', (t, url) => {
    expect(importUrl(t)).toBe(url);
  });
  test.each([
    [{ kibanaUrl: '' }, undefined],
    [{ kibanaUrl: '', username: 'elastic', password: 'pw' }, `Basic ${Buffer.from('elastic:pw').toString('base64')}`],
    [{ kibanaUrl: '', username: 'elastic', password: 'pw', apiKey: 'a2V5' }, 'ApiKey a2V5'],
  ])('auth %j', (t, header) => {
    expect(authHeader(t)).toBe(header);
  });
});

describe('against a stand-in Kibana', () => {
  let server: Server;
  let base: string;
  let answer: { status: number; body: unknown } = { status: 200, body: { success: true, successCount: 0 } };
  const received: { method?: string; url?: string; headers: IncomingHttpHeaders; body: Buffer }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  /** The `file` part of a recorded multipart body, parsed by the platform's own multipart reader. */
  const fileOf = async (r: (typeof received)[number]) => {
    const form = await new Response(new Uint8Array(r.body), { headers: { 'content-type': String(r.headers['content-type']) } }).formData();
    const file = form.get('file') as File;
    return { name: file.name, text: await file.text() };
  };

  test('posts the ndjson as the multipart `file`, with kbn-xsrf and auth', async () => {
    received.length = 0;
    answer = { status: 200, body: { success: true, successCount: shipped.length } };
    const ndjson = renderNdjson(shipped);
    const result = await importSavedObjects(ndjson, { kibanaUrl: base, space: 'ops', apiKey: 'a2V5' });
    expect(result).toEqual({ success: true, successCount: shipped.length });
    const [r] = received;
    expect(r.method).toBe('POST');
    expect(r.url).toBe('/s/ops/api/saved_objects/_import?overwrite=true');
    expect(r.headers['kbn-xsrf']).toBe('true');
    expect(r.headers.authorization).toBe('ApiKey a2V5');
    expect(r.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(await fileOf(r)).toEqual({ name: 'clickstream.ndjson', text: ndjson });
  });

  test('an HTTP error is thrown with what Kibana said', async () => {
    answer = { status: 401, body: { statusCode: 401, error: 'Unauthorized', message: '[security_exception] missing authentication credentials' } };
    await expect(importSavedObjects('{}\n', { kibanaUrl: base })).rejects.toThrow(/401.*missing authentication/);
  });

  const run = (env: Record<string, string>, ...args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, ['--import', 'tsx', 'scripts/kibana-import.ts', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d));
      p.stderr.on('data', (d: Buffer) => (err += d));
      p.on('close', (code) => resolve({ code, out, err }));
    });

  test('npm run kibana:import: imports the file rewritten for ES_INDEX_PREFIX, prints the dashboard URL', async () => {
    received.length = 0;
    answer = { status: 200, body: { success: true, successCount: shipped.length } };
    const r = await run({ KIBANA_URL: base, KIBANA_USERNAME: 'elastic', KIBANA_PASSWORD: 'changeme', ES_INDEX_PREFIX: 'shop', KIBANA_SPACE: '' });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${base}/app/dashboards#/view/shop-dashboard`);
    expect(received[0].headers.authorization).toBe(`Basic ${Buffer.from('elastic:changeme').toString('base64')}`);
    const sent = parseNdjson((await fileOf(received[0])).text) as SavedObject[];
    expect(sent.find((o) => o.type === 'index-pattern' && o.attributes.title === 'shop-kpis')).toBeDefined();
  });

  test('npm run kibana:import: objects Kibana refused are listed and the exit code is 1', async () => {
    answer = {
      status: 200,
      body: { success: false, successCount: 20, errors: [{ id: 'clickstream-url-country-table', type: 'lens', meta: { title: 'Top URLs x country' }, error: { type: 'unknown', message: 'bad state' } }] },
    };
    const r = await run({ KIBANA_URL: base });
    expect(r.code).toBe(1);
    expect(r.err).toContain('lens clickstream-url-country-table (Top URLs x country): unknown bad state');
  });

  test('--print writes the ndjson and posts nothing', async () => {
    received.length = 0;
    const r = await run({ KIBANA_URL: base }, '--print');
    expect(r.code).toBe(0);
    expect(r.out).toBe(readFileSync(KIBANA_NDJSON, 'utf8'));
    expect(received).toHaveLength(0);
  });
});
