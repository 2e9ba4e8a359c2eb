import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { configTable } from '../../contracts/config.js';
import { README, readmeTable } from '../../scripts/config-doc.js';

test('the README documents every setting with its default (npm run config:doc -- --write)', () => {
  expect(readmeTable(readFileSync(README, 'utf8'))).toBe(configTable());
});
