import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const serverOnly = ['node:*', 'kafkajs', '@aws-sdk/*', '@elastic/*', 'fastify', '@fastify/*', 'pino', 'prom-client', 'geoip-lite', 'ua-parser-js', 'hyparquet*'];

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
    // The pure core: contracts are imported by the browser SDK, so no server or DOM-only imports.
    files: ['contracts/**/*.ts', 'sdk/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: serverOnly, message: 'contracts/ and sdk/ stay free of server imports' }] }],
    },
  },
);
