#!/usr/bin/env node
// `npm run build`: the services as plain JavaScript in dist/ (what the image runs with `node`):
// empties dist/, compiles the entry points of tsconfig.build.json with tsc, then copies the
// files the compiled modules read next to themselves at run time (found through
// import.meta.url, so they must sit at the same place relative to the .js as to the .ts).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const ASSETS = ['dashboard/public', 'infra/kibana/clickstream.ndjson'];

const root = fileURLToPath(new URL('..', import.meta.url));
const t0 = Date.now();
rmSync(`${root}dist`, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });
for (const a of ASSETS) {
  if (!existsSync(`${root}${a}`)) throw new Error(`build: ${a} is missing`);
  cpSync(`${root}${a}`, `${root}dist/${a}`, { recursive: true });
}
console.log(`✓ dist/ built in ${((Date.now() - t0) / 1000).toFixed(1)} s: node dist/gateway/server.js, dist/processor/main.js, dist/dashboard/server.js, dist/infra/cli.js setup`);
