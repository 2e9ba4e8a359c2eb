import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { gatewayMetrics } from '../../gateway/metrics.js';
import { processorMetrics } from '../../processor/metrics.js';

/** Metric names a rule expression refers to (identifiers before `{`, `[` or ` ` that look like ours). */
function metricNames(rules: string): string[] {
  const exprs = [...rules.matchAll(/expr:\s*(.+)/g)].map((m) => m[1]);
  const names = exprs.flatMap((e) => [...e.matchAll(/\b((?:gateway|processor)_[a-z_]+)\b/g)].map((m) => m[1]));
  return [...new Set(names)];
}

test('every metric the alerting rules use is exported by the gateway or the processor', async () => {
  const rules = readFileSync(new URL('../../infra/prometheus/alerts.yml', import.meta.url), 'utf8');
  const used = metricNames(rules);
  expect(used.length).toBeGreaterThan(8);
  const exported = new Set<string>();
  for (const registry of [gatewayMetrics().registry, processorMetrics().registry]) {
    for (const m of await registry.getMetricsAsJSON()) {
      exported.add(m.name);
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(m.name + s);
    }
  }
  expect(used.filter((n) => !exported.has(n))).toEqual([]);
});
