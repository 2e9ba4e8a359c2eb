// Builds the SDK (run from the repo root: `npm run build:sdk`):
//  - dist/*.js          ES modules for npm (index + one per plugin, shared code in dist/chunks/);
//                       types come from `tsc -p sdk/tsconfig.build.json` into dist/types/.
//  - dist/clickstream.min.js       minified IIFE for <script async>, core only;
//  - dist/clickstream.full.min.js  the same with every plugin (consent and identify included).
// scripts/size.mjs imports `entries`, `plugins` and `terserOptions` to measure the same builds.
import { fileURLToPath } from 'node:url';
import typescript from '@rollup/plugin-typescript';
import terser from '@rollup/plugin-terser';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

export const entries = {
  index: here('./src/index.ts'),
  'auto-pageviews': here('./src/plugins/auto-pageviews.ts'),
  'auto-clicks': here('./src/plugins/auto-clicks.ts'),
  engagement: here('./src/plugins/engagement.ts'),
  consent: here('./src/plugins/consent.ts'),
  identify: here('./src/plugins/identify.ts'),
  utm: here('./src/plugins/utm.ts'),
  'check-endpoint': here('./src/plugins/check-endpoint.ts'),
  dnt: here('./src/plugins/dnt.ts'),
};

export const plugins = () => [
  typescript({
    tsconfig: here('./tsconfig.json'),
    include: [here('./src/**/*.ts'), here('../contracts/*.ts')],
    compilerOptions: { noEmit: false, declaration: false, module: 'esnext', moduleResolution: 'bundler', target: 'es2020' },
    outputToFilesystem: false,
  }),
];

/** Shared by the IIFE builds and the size measurements of the ES entry points. */
export const terserOptions = {
  ecma: 2020,
  module: true,
  compress: { passes: 3, unsafe_arrows: true, unsafe_methods: false, pure_getters: true },
  format: { comments: false },
};

export default [
  {
    input: entries,
    plugins: plugins(),
    output: {
      dir: here('./dist'),
      format: 'es',
      entryFileNames: '[name].js',
      chunkFileNames: 'chunks/[name].js',
      // The code the entry points share is the core's: named so (rollup would name it after one of them).
      manualChunks: (id) => (id.endsWith('/src/core.ts') ? 'core' : undefined),
      sourcemap: true,
    },
  },
  ...[
    ['global', 'clickstream.min.js'],
    ['global-full', 'clickstream.full.min.js'],
  ].map(([src, file]) => ({
    input: here(`./src/${src}.ts`),
    plugins: plugins(),
    output: {
      file: here(`./dist/${file}`),
      format: 'iife',
      // No "use strict" prologue nor Object.freeze on the namespace: bytes, not behaviour.
      strict: false,
      freeze: false,
      // The map is written but not linked: a comment line would ship to every visitor.
      sourcemap: 'hidden',
      plugins: [terser({ ...terserOptions, module: false })],
    },
  })),
];
