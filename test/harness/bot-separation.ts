/**
 * How far apart the bot-session model puts scripted bots and people: the score of every session
 * it scores (the model run with threshold 0), on the labelled sessions of anomaly-scenarios.ts and
 * on the demo's own traffic (scripts/traffic-generator.ts shoppers at one visit a second, with the
 * `bot-session` demo scenario's script every two minutes), and the share of people at or above
 * the threshold. Pure; `npm run anomaly:eval` prints it.
 */
import { BotSessionModel, type BotSessionOptions, type SessionEvent } from '../../processor/anomaly/bot-sessions.js';
import { quantile } from '../../processor/anomaly/stats.js';
import { scenarioVisits } from '../../scripts/demo-scenarios.js';
import { makeVisit, rng, type Visit } from '../../scripts/traffic-generator.js';
import { sessionScenario } from './anomaly-scenarios.js';

export interface Separation {
  traffic: string;
  bots: number;
  /** Bots scored (sessions closing before the first model are not). */
  botsScored: number;
  botMin: number;
  botP05: number;
  botMedian: number;
  people: number;
  peopleMedian: number;
  peopleP99: number;
  peopleMax: number;
  /** People at or above the threshold / people scored. */
  falseFlagRate: number;
  /** Bots at or above the threshold / bots. */
  recall: number;
}

function separation(traffic: string, runs: { events: SessionEvent[]; bots: Set<string>; to: number }[], o: BotSessionOptions): Separation {
  const bots: number[] = [];
  const people: number[] = [];
  let botCount = 0;
  for (const run of runs) {
    const m = new BotSessionModel({ ...o, threshold: 0 });
    const take = (found: readonly { session_id: string; score: number }[]) => {
      for (const f of found) (run.bots.has(f.session_id) ? bots : people).push(f.score);
    };
    for (const e of run.events) take(m.add(e));
    take(m.advance(run.to + 2 * o.sessionGapMs));
    botCount += run.bots.size;
  }
  const at = (xs: number[]) => xs.filter((x) => x >= o.threshold).length;
  return {
    traffic,
    bots: botCount,
    botsScored: bots.length,
    botMin: Math.min(...bots),
    botP05: quantile(bots, 0.05),
    botMedian: quantile(bots, 0.5),
    people: people.length,
    peopleMedian: quantile(people, 0.5),
    peopleP99: quantile(people, 0.99),
    peopleMax: Math.max(...people),
    falseFlagRate: at(people) / Math.max(1, people.length),
    recall: at(bots) / Math.max(1, botCount),
  };
}

/** `hours` of the demo generator's shoppers (one visit a second) with the demo's bot script every two minutes. */
export function demoSessions(seed: number, hours: number): { events: SessionEvent[]; bots: Set<string>; to: number } {
  const r = rng(seed);
  const from = Date.UTC(2026, 0, 5, 8);
  const to = from + hours * 3_600_000;
  const events: SessionEvent[] = [];
  const bots = new Set<string>();
  // The gateway's enrichment of these user agents: a browser, not a bot.
  const add = (v: Visit) => events.push(...v.events.map((e) => ({ session_id: e.session_id, visitor_id: e.visitor_id, site_id: 'demo', event_type: e.type, t: e.ts, url: e.url, browser: 'Chrome', is_bot: false })));
  for (let t = from, n = 0; t < to; t += 1000) {
    add(makeVisit(r, t));
    if ((t - from) % 120_000 === 60_000) {
      const [bot] = scenarioVisits('bot-session', t, n++);
      bots.add(bot.events[0].session_id);
      add(bot);
    }
  }
  events.sort((a, b) => a.t - b.t || (a.session_id < b.session_id ? -1 : 1));
  return { events, bots, to };
}

export function botSeparation(seeds: number[], o: BotSessionOptions, demoHours = 3): Separation[] {
  return [
    separation('labelled sessions', seeds.map((seed) => sessionScenario({ seed })), o),
    separation(`demo traffic (${demoHours} h a seed)`, seeds.map((seed) => demoSessions(seed, demoHours)), o),
  ];
}
