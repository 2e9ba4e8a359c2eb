import { defineConfig } from 'vitest/config';

const integration = ['**/*.integration.test.ts', '**/*.e2e.test.ts'];
const ignored = ['node_modules/**', '.data/**', '.cache/**'];

/**
 * Integration files that run with nothing beside them: they start brokers or a node of their own
 * and kill, stop or stall them while timing the recovery (or, for overload, flood the machine on
 * purpose), so a second file beside them would change what they measure and slow them, and they
 * would slow it. Every other integration file keeps to topics, index prefixes, consumer groups and
 * ports of its own on the shared Kafka and Elasticsearch, and runs two at a time.
 */
const alone = [
  'test/integration/kafka-failover.integration.test.ts',
  'processor/takeover.integration.test.ts',
  'test/integration/gateway-outage.integration.test.ts',
  'infra/infra.integration.test.ts',
  'test/integration/kafka-secured.integration.test.ts',
  'test/integration/es-backup.integration.test.ts',
  'test/e2e/overload.e2e.test.ts',
];

const integrationProject = {
  exclude: ignored,
  // Raw indexing holds its bulks while the host's CPU pressure is high (processor/index-yield.ts,
  // unit-tested). Two integration files at a time on 2 cores reach that pressure, and the tests wait
  // for raw events in Elasticsearch with timeouts: here it is off (processes started by the tests
  // inherit it).
  env: { PROCESSOR_INDEX_YIELD_PRESSURE_PCT: '0' },
  // Both projects list it; the services are started once and shared (test/global-setup.ts).
  globalSetup: ['test/global-setup.ts'],
  testTimeout: 120_000,
  hookTimeout: 300_000,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: [...ignored, ...integration],
          // Vitest's default on 2 cores is one worker (cores - 1).
          maxWorkers: 2,
        },
      },
      {
        // After the unit files (groupOrder), two files at a time on the shared services.
        test: { ...integrationProject, name: 'integration', include: integration, exclude: [...ignored, ...alone], maxWorkers: 2, sequence: { groupOrder: 1 } },
      },
      {
        // Then the files in `alone`, one after another.
        test: { ...integrationProject, name: 'integration-alone', include: alone, maxWorkers: 1, fileParallelism: false, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
