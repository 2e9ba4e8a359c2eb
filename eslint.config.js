import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of the code, enforced on imports (test/unit/lint-layers.test.ts checks that a
 * crossing fails):
 * - pure modules (contracts/, processor/analytics/, processor/anomaly/): no Node, DOM, Kafka, AWS,
 *   Elasticsearch or HTTP-server imports and no `process`, so they run the same in the browser
 *   SDK, in tests and in every service; contracts/ imports nothing outside contracts/;
 * - dashboard/ and infra/ read the processor's output through contracts/, never processor/;
 * - runtime code imports neither the tests nor scripts/.
 */
const serverOnly = ['node:*', ...builtinModules, 'kafkajs', '@aws-sdk/*', '@elastic/*', 'fastify', '@fastify/*', 'pino', 'prom-client', 'geoip-lite', 'ua-parser-js', 'hyparquet*', 'maxmind', 'isbot'];
const hostGlobals = ['process', 'Buffer', 'require', '__dirname', '__filename', 'window', 'document', 'navigator', 'localStorage', 'sessionStorage', 'fetch', 'XMLHttpRequest'].map((name) => ({
  name,
  message: 'pure modules take what they need from their caller',
}));
const tests = ['**/*.test.ts', 'test/**', 'sdk/test/**'];
const noTestsOrScripts = { regex: String.raw`(^|/)(test|scripts)/|\.test(\.js)?$`, message: 'runtime code does not import tests or scripts/' };
const noProcessor = { regex: String.raw`(^|/)processor/`, message: 'dashboard/ and infra/ read the processor\'s documents through contracts/ (documents.ts, windows.ts), not processor/' };

const restrict = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['node_modules/', '.data/', '.cache/', 'dist/', 'sdk/dist/', 'coverage/', '**/*.mjs', 'sdk/demo/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['contracts/**/*.ts', 'gateway/**/*.ts', 'processor/**/*.ts', 'common/**/*.ts', 'sdk/src/**/*.ts'],
    ignores: tests,
    rules: restrict(noTestsOrScripts),
  },
  {
    files: ['dashboard/**/*.ts', 'dashboard/**/*.js', 'infra/**/*.ts'],
    ignores: tests,
    rules: restrict(noTestsOrScripts, noProcessor),
  },
  {
    // The SDK is browser code: no server imports (DOM globals are its business).
    files: ['sdk/src/**/*.ts'],
    rules: restrict(noTestsOrScripts, { group: serverOnly, message: 'sdk/ runs in the browser: no server imports' }),
  },
  {
    files: ['processor/analytics/**/*.ts', 'processor/anomaly/**/*.ts'],
    ignores: tests,
    rules: {
      ...restrict(noTestsOrScripts, { group: serverOnly, message: 'pure modules: no Node, Kafka, AWS or Elasticsearch imports' }),
      'no-restricted-globals': ['error', ...hostGlobals],
    },
  },
  {
    files: ['contracts/**/*.ts'],
    rules: {
      ...restrict(
        { group: serverOnly, message: 'contracts/ is pure (the browser SDK imports it): no Node, Kafka, AWS or Elasticsearch imports' },
        { regex: String.raw`^\.\./`, message: 'contracts/ imports nothing outside contracts/' },
      ),
      'no-restricted-globals': ['error', ...hostGlobals],
    },
  },
);
