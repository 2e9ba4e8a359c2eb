import { describe, expect, it } from 'vitest';
import { parseScenarios, purchasesStopped, scenarioVisits } from '../../scripts/demo-scenarios.js';
import { makeVisit, rng } from '../../scripts/traffic-generator.js';
import { ClickBurstDetectors } from '../../processor/anomaly/burst.js';
import { anomalyOptionsFromConfig } from '../../processor/anomaly/options.js';
import { parseConfig } from '../../contracts/config.js';

/** What the processor's burst detectors (default settings) raise on demo traffic plus the injected visits. */
function bursts(scenario: 'click-burst' | 'network-burst') {
  const o = anomalyOptionsFromConfig(parseConfig({}));
  const d = new ClickBurstDetectors(o.visitorBursts, o.networkBursts);
  const r = rng(3);
  const t0 = Date.UTC(2026, 0, 5, 10);
  // Ten minutes of the demo's shoppers (about 4 visits a second), each network a /24 as the gateway makes it.
  const visits = Array.from({ length: 2400 }, (_, i) => makeVisit(r, t0 + i * 250));
  visits.push(...scenarioVisits(scenario, t0 + 480_000, 0));
  const clicks = visits
    .flatMap((v) => v.events.filter((e) => e.type === 'click').map((e) => ({ t: e.ts, visitor: e.visitor_id, network: v.ip.replace(/\.\d+$/, '.0'), site: 'demo' })))
    .sort((a, b) => a.t - b.t);
  // The first minutes are the detectors' cold start (a network's usual count is not known yet).
  const found = clicks.flatMap((c) => d.add(c)).filter((b) => b.at >= t0 + 180_000);
  return found.map((b) => `${b.scope}:${b.entity.startsWith('v-demo') || b.entity.startsWith('203.0.113') ? 'injected' : b.entity}`);
}

describe('demo scenarios', () => {
  it('click-burst raises one click burst, of the injected visitor', () => {
    expect(bursts('click-burst')).toEqual(['visitor:injected']);
  });
  it('network-burst raises one network burst, of the injected network, and no visitor burst', () => {
    expect(bursts('network-burst')).toEqual(['network:injected']);
  });
  it('parses the setting and refuses an unknown scenario', () => {
    expect(parseScenarios(' click-burst, bot-session ,click-burst')).toEqual(['click-burst', 'bot-session']);
    expect(parseScenarios('')).toEqual([]);
    expect(() => parseScenarios('click-storm')).toThrow(/unknown scenario "click-storm"/);
  });
  it('purchases-stop: minutes 20-35 of each hour, from 20 minutes after the start', () => {
    const m = (x: number) => purchasesStopped(0, x * 60_000);
    expect([m(5), m(19.9), m(20), m(34.9), m(35), m(80), m(95)]).toEqual([false, false, true, true, false, true, false]);
  });
});
