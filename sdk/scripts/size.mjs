#!/usr/bin/env node
// Prints raw, gzip and brotli bytes of every SDK entry point and fails (exit 1) when the core or
// the core script-tag build goes over its budget. The core is what the brief calls the core: the
// four event types, batching, the beacon on page hide, retry with backoff and the offline queue,
// as a site importing the whole core API from npm ships it. Its budget is the figure it was
// brought to (it was 2,048, 1,952, 1,900, then 1,532 under the brief's 1,536-byte aim; 1,549 since
// a closing page writes each entry under a new key: 17 bytes that stop a lost event), so any
// growth fails the build. Consent, identify/reset, utm_*, the endpoint check, Do Not Track and the three
// view/click/time plugins are entry points of their own. The core script-tag build is the core
// with the script-tag loader, utm_*, the endpoint check and `respectDnt` (what the snippet's users
// get by default), gated at its own figure; the full script build adds every plugin.
//
// Everything is built here in memory with the same rollup plugins and terser options as
// rollup.config.mjs, so the numbers never come from a stale dist/. Written to dist/size.json too.
//
//   node sdk/scripts/size.mjs          (npm run size:sdk)
import { rollup } from 'rollup';
import terser from '@rollup/plugin-terser';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import config, { entries, plugins, terserOptions } from '../rollup.config.mjs';

/** min+gzip budgets: the core (npm, whole core API) and the core script-tag build. */
const BUDGET = 1549;
const SCRIPT_BUDGET = 1837;
const AIM = 1536;
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const src = (p) => here(`../src/${p}`);

const quiet = (w, warn) => (w.code === 'EMPTY_BUNDLE' ? undefined : warn(w));

/** Bundles `code` (an ES module importing the SDK by absolute path) as it would be shipped. */
async function bundle(code, { external, format = 'es' } = {}) {
  const virtual = {
    name: 'virtual-entry',
    resolveId: (id) => (id === '\0entry' ? id : null),
    load: (id) => (id === '\0entry' ? code : null),
  };
  const b = await rollup({ input: '\0entry', plugins: [virtual, ...plugins()], external, onwarn: quiet });
  const { output } = await b.generate({ format, plugins: [terser(terserOptions)] });
  await b.close();
  return output[0].code;
}

/** The script-tag builds, exactly as rollup.config.mjs makes them. */
async function iife(file) {
  const c = config.find((x) => x.output.file?.endsWith(file));
  const b = await rollup({ input: c.input, plugins: c.plugins, onwarn: quiet });
  const { output } = await b.generate({ ...c.output, sourcemap: false });
  await b.close();
  return output[0].code;
}

const importAll = (names, from = src('index.ts')) => `export { ${names.join(', ')} } from ${JSON.stringify(from)};`;
const coreApi = ['init', 'track', 'flush', 'page', 'click', 'addToCart', 'purchase'];
// A plugin's own bytes: whatever it imports from the core is left out (a page loads the core anyway).
const pluginOnly = (file) => ({
  code: `export * from ${JSON.stringify(entries[file])};`,
  external: (id, importer) => Boolean(importer) && !id.includes('/plugins/') && id !== entries[file],
});

const snippet = readFileSync(here('../snippet.html'), 'utf8').match(/<script>([\s\S]*?)<\/script>/)[1].trim();

const rows = [
  ['clickstream.min.js', 'script tag, core build (budget)', await iife('clickstream.min.js'), SCRIPT_BUDGET],
  ['clickstream.full.min.js', 'script tag, core + every plugin', await iife('clickstream.full.min.js')],
  ['@clickstream/sdk', 'npm, whole core API (budget)', await bundle(importAll(coreApi)), BUDGET],
  ['@clickstream/sdk', 'npm, init + page only', await bundle(importAll(['init', 'page']))],
  ['@clickstream/sdk', 'npm, init + page + addToCart + purchase', await bundle(importAll(['init', 'page', 'addToCart', 'purchase']))],
  ...['auto-pageviews', 'auto-clicks', 'engagement', 'dnt'].map((p) => {
    const { code, external } = pluginOnly(p);
    return [`@clickstream/sdk/${p}`, 'npm plugin, its own bytes', null, false, code, external];
  }),
  // consent, identify, utm and check-endpoint use the core's state or hooks: their cost is what
  // they add to the whole core API (the hook's call included: without the plugin it is dropped).
  ...[
    ['consent', ['consent']],
    ['identify', ['identify', 'reset']],
    ['utm', ['utm']],
    ['check-endpoint', ['checkEndpoint']],
  ].map(([p, names]) => [`@clickstream/sdk/${p}`, 'npm plugin, bytes added to the core API', null, false, `${importAll(coreApi)}${importAll(names, entries[p])}`, undefined, true]),
  ['snippet.html', 'inline loader snippet', snippet],
];

const sizes = (code) => ({
  raw: Buffer.byteLength(code),
  gzip: gzipSync(code, { level: 9 }).length,
  brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
});
const coreSizes = sizes(await bundle(importAll(coreApi)));
const measured = [];
for (const [name, what, code0, budget, pluginCode, external, added] of rows) {
  const m = sizes(code0 ?? (await bundle(pluginCode, { external })));
  if (added) for (const k of ['raw', 'gzip', 'brotli']) m[k] -= coreSizes[k];
  measured.push({ name, what, ...m, ...(budget ? { budget } : {}) });
}

const pad = (s, n) => String(s).padEnd(n - 1) + ' ';
const lpad = (s, n) => String(s).padStart(n);
console.log(`${pad('entry point', 34)}${pad('', 42)}${lpad('raw', 7)}${lpad('gzip', 7)}${lpad('brotli', 8)}`);
for (const m of measured) console.log(`${pad(m.name, 34)}${pad(m.what, 42)}${lpad(m.raw, 7)}${lpad(m.gzip, 7)}${lpad(m.brotli, 8)}`);

mkdirSync(here('../dist'), { recursive: true });
writeFileSync(here('../dist/size.json'), JSON.stringify({ budget: BUDGET, scriptBudget: SCRIPT_BUDGET, aim: AIM, entries: measured }, null, 2) + '\n');

const over = measured.filter((m) => m.budget && m.gzip > m.budget);
if (over.length) {
  for (const m of over) console.error(`✗ ${m.name} (${m.what}) is ${m.gzip} bytes min+gzip: over its ${m.budget}-byte budget by ${m.gzip - m.budget}`);
  process.exit(1);
}
const core = measured.find((m) => m.budget === BUDGET);
const script = measured.find((m) => m.budget === SCRIPT_BUDGET);
const aim = core.gzip <= AIM ? `within the ${AIM}-byte aim` : `${core.gzip - AIM} over the ${AIM}-byte aim`;
console.log(`✓ core ${core.gzip} bytes min+gzip: within its ${BUDGET}-byte budget, ${aim}; core script build ${script.gzip}, within its ${SCRIPT_BUDGET}`);
