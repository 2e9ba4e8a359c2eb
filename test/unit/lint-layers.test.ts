/**
 * The layer rules of eslint.config.js, run through ESLint's Node API on small sources placed
 * (virtually) in each folder: a crossing must fail lint, the allowed import must pass.
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: root });

/** The rule ids and messages ESLint reports for `code` as if it were the file `path`. */
async function problems(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}/${path}` });
  return result.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('layers', () => {
  test.each([
    ['dashboard/layer-probe.ts', "import { DIMENSIONS } from '../processor/analytics/kpi.js';\nexport const d = DIMENSIONS;\n", /no-restricted-imports.*through contracts/],
    ['infra/kibana/layer-probe.ts', "import { startProcessor } from '../../processor/main.js';\nexport const s = startProcessor;\n", /no-restricted-imports.*through contracts/],
    ['gateway/layer-probe.ts', "import { pageView } from '../test/unit/fixtures.js';\nexport const p = pageView;\n", /no-restricted-imports.*tests or scripts/],
    ['processor/layer-probe.ts', "import { rng } from '../scripts/traffic-generator.js';\nexport const r = rng;\n", /no-restricted-imports.*tests or scripts/],
    ['processor/layer-probe.ts', "import { enriched } from '../test/harness/traffic.js';\nexport const e = enriched;\n", /no-restricted-imports.*tests or scripts/],
    ['infra/layer-probe.ts', "import { isolatedConfig } from '../test/harness/it-harness.js';\nexport const c = isolatedConfig;\n", /no-restricted-imports.*tests or scripts/],
    ['contracts/layer-probe.ts', "export const env = process.env.X;\n", /no-restricted-globals.*process/],
    ['contracts/layer-probe.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", /no-restricted-imports.*pure/],
    ['contracts/layer-probe.ts', "import { sha1Hex } from '../processor/analytics/sha1.js';\nexport const h = sha1Hex;\n", /no-restricted-imports.*nothing outside contracts/],
    ['processor/analytics/layer-probe.ts', "import { Kafka } from 'kafkajs';\nexport const k = Kafka;\n", /no-restricted-imports.*pure modules/],
    ['processor/analytics/layer-probe.ts', "import { createHash } from 'crypto';\nexport const h = createHash;\n", /no-restricted-imports.*pure modules/],
    ['processor/anomaly/layer-probe.ts', 'export const now = () => process.hrtime();\n', /no-restricted-globals.*process/],
  ])('%s: a crossing fails lint', async (path, code, expected) => {
    const found = await problems(path, code);
    expect(found.join('\n')).toMatch(expected);
  }, 60_000);

  test.each([
    ['dashboard/layer-probe.ts', "import { DIMENSIONS } from '../contracts/documents.js';\nexport const d = DIMENSIONS;\n"],
    ['processor/analytics/layer-probe.ts', "import { REVENUE_SCALE } from '../../contracts/documents.js';\nimport { sha1Hex } from './sha1.js';\nexport const x = [REVENUE_SCALE, sha1Hex];\n"],
    ['processor/layer-probe.ts', "import { Kafka } from 'kafkajs';\nexport const k = Kafka;\n"],
    ['test/unit/layer-probe.test.ts', "import { startProcessor } from '../../processor/main.js';\nexport const s = startProcessor;\n"],
    ['test/harness/layer-probe.ts', "import { PartitionEngine } from '../../processor/analytics/engine.js';\nexport const p = PartitionEngine;\n"],
  ])('%s: an allowed import passes', async (path, code) => {
    expect(await problems(path, code)).toEqual([]);
  }, 60_000);
});
