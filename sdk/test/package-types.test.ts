/**
 * The published types resolve for every entry point (the core and each plugin, consent and identify included) under each of
 * TypeScript's module resolutions: node10 (no `exports`: the plugins go through `typesVersions`),
 * node16 (ES module consumer: `exports` with its `types` conditions) and bundler. The package is
 * laid out in a temporary node_modules as npm would install it (package.json + the declarations
 * `npm run build:sdk` makes), then a consumer using every entry point is type-checked.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const sdk = fileURLToPath(new URL('..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
let dir = '';

const consumer = `import { init, page, addToCart, type Options, type ClientEvent } from '@clickstream/sdk';
import { consent } from '@clickstream/sdk/consent';
import { identify, reset } from '@clickstream/sdk/identify';
import { autoPageviews, type AutoPageviewOptions } from '@clickstream/sdk/auto-pageviews';
import { autoClicks } from '@clickstream/sdk/auto-clicks';
import { engagement, type EngagementOptions } from '@clickstream/sdk/engagement';
import { utm } from '@clickstream/sdk/utm';
import { checkEndpoint } from '@clickstream/sdk/check-endpoint';
import { doNotTrack } from '@clickstream/sdk/dnt';
const options: Options = { endpoint: '/v1/events', siteKey: 'k' };
utm();
checkEndpoint();
if (!doNotTrack()) init(options);
page();
addToCart({ productId: 'p', price: 1, currency: 'EUR' });
consent(true);
identify('u');
reset();
const views: AutoPageviewOptions = { hash: true };
const time: EngagementOptions = { hash: true, minMs: 500 };
const stops: (() => void)[] = [autoPageviews(views), autoClicks(), engagement(time)];
export const e: ClientEvent | undefined = undefined;
export default stops;
// A wrong use must fail, or the check proves nothing.
// @ts-expect-error minMs is a number
engagement({ minMs: 'soon' });
// @ts-expect-error respectDnt is the script-tag builds' option; from npm, doNotTrack() decides
init({ respectDnt: true });
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sdk-types-'));
  const pkg = join(dir, 'node_modules/@clickstream/sdk');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(sdk, 'package.json'), join(pkg, 'package.json'));
  // The declarations, as `npm run build:sdk` writes them into dist/types.
  execFileSync(process.execPath, [tsc, '-p', join(sdk, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist/types')], { stdio: 'pipe' });
}, 120_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('@clickstream/sdk types resolve under every moduleResolution', () => {
  test.each([
    ['node10', { module: 'commonjs', moduleResolution: 'node10' }, 'commonjs'],
    ['node16', { module: 'node16', moduleResolution: 'node16' }, 'module'],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }, 'module'],
  ])('%s', (name, options, type) => {
    const project = join(dir, name);
    mkdirSync(project, { recursive: true });
    // The package is found in the node_modules one level up, as in a monorepo.
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, type }));
    writeFileSync(join(project, 'consumer.ts'), consumer);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { ...options, target: 'es2022', lib: ['es2022', 'dom'], strict: true, noEmit: true, skipLibCheck: false, types: [], ignoreDeprecations: '6.0' },
        files: ['consumer.ts'],
      }),
    );
    let out = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'pipe', encoding: 'utf8' });
    } catch (err) {
      out = String((err as { stdout?: string }).stdout ?? err);
    }
    expect(out).toBe('');
  }, 60_000);
});
