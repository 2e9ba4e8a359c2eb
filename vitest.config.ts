import { defineConfig } from 'vitest/config';

const integration = ['**/*.integration.test.ts', '**/*.e2e.test.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: ['node_modules/**', '.data/**', '.cache/**', ...integration],
        },
      },
      {
        test: {
          name: 'integration',
          include: integration,
          exclude: ['node_modules/**', '.data/**', '.cache/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // One set of real services is shared; files run one after another.
          fileParallelism: false,
        },
      },
    ],
  },
});
