/**
 * Labelled anomaly scenarios for the live demo and the traffic CLI (`DEMO_SCENARIO`): visits that
 * the processor's detectors should alert on, injected into the synthetic shoppers at a fixed
 * rhythm, each announced with what it should raise, so a user sees an alert in the dashboard.
 *
 * - `click-burst`: one visitor clicks 40 times in 8 s (the default ANOMALY_BURST_SPANS floor is
 *   8 clicks in 10 s): a `click_burst` alert within seconds.
 * - `network-burst`: 30 visitors of one network (203.0.113.0/24) click 90 times in 10 s, none
 *   of them more than 3 times: a `network_burst` alert, no `click_burst`.
 * - `bot-session`: a script claiming a browser walks 40 pages at a regular 300 ms step, clicking
 *   without viewing: a `bot_session` alert once the model has trained
 *   (ANOMALY_BOT_MIN_TRAINING closed sessions) and the session has closed
 *   (ANOMALY_BOT_SESSION_GAP_S after its last event).
 * - `purchases-stop`: from 20 minutes after the start, for 15 minutes of every hour, visits do
 *   not buy: a `purchases_stopped` alert two to three ANOMALY_SITE_STEP_S windows into it.
 */
import type { ClientEvent } from '../contracts/event-schema.js';
import { USER_AGENTS, type Visit } from './traffic-generator.js';

export const DEMO_SCENARIOS = ['click-burst', 'network-burst', 'bot-session', 'purchases-stop'] as const;
export type DemoScenario = (typeof DEMO_SCENARIOS)[number];

/** "click-burst,bot-session" -> the scenarios; throws on an unknown name. */
export function parseScenarios(raw: string): DemoScenario[] {
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) if (!(DEMO_SCENARIOS as readonly string[]).includes(n)) throw new Error(`DEMO_SCENARIO: unknown scenario "${n}" (one or more of ${DEMO_SCENARIOS.join(', ')}, comma-separated)`);
  return [...new Set(names)] as DemoScenario[];
}

/** An injected visit and what it should raise (printed by the demo). */
export interface ScenarioVisit extends Visit {
  scenario: DemoScenario;
  expect: string;
}

const BURST_NETWORK = '203.0.113.';

/** The visits of one scenario starting at `t`; `n` numbers the injection (ids stay distinct). */
export function scenarioVisits(s: Exclude<DemoScenario, 'purchases-stop'>, t: number, n: number, base = 'https://shop.example'): ScenarioVisit[] {
  const url = `${base}/products/mug`;
  const page = (visitor: string, session: string, ts: number, id: string): ClientEvent => ({ event_id: id, type: 'page_view', ts, visitor_id: visitor, session_id: session, url, title: 'Enamel mug' });
  const click = (visitor: string, session: string, ts: number, id: string): ClientEvent => ({ event_id: id, type: 'click', ts, visitor_id: visitor, session_id: session, url, element: 'button.add' });
  if (s === 'click-burst') {
    const v = `v-demo-burst-${n}-${t}`;
    const events = [page(v, `${v}-s`, t, `${v}-pv`), ...Array.from({ length: 40 }, (_, i) => click(v, `${v}-s`, t + 1000 + i * 200, `${v}-c${i}`))];
    return [{ scenario: s, expect: `click_burst for visitor ${v}`, ua: USER_AGENTS[0], ip: '81.2.69.142', events }];
  }
  if (s === 'network-burst') {
    const ip = `${BURST_NETWORK}${1 + (n % 200)}`;
    return Array.from({ length: 30 }, (_, k) => {
      const v = `v-demo-net-${n}-${k}-${t}`;
      const events = [page(v, `${v}-s`, t + k * 10, `${v}-pv`), ...Array.from({ length: 3 }, (_, i) => click(v, `${v}-s`, t + 500 + k * 300 + i * 100, `${v}-c${i}`))];
      return { scenario: s, expect: k === 0 ? `network_burst for network ${BURST_NETWORK}0/24 (30 visitors, 90 clicks in 10 s)` : '', ua: USER_AGENTS[k % USER_AGENTS.length], ip, events };
    });
  }
  const v = `v-demo-bot-${n}-${t}`;
  const events = Array.from({ length: 40 }, (_, i) => ({ ...click(v, `${v}-s`, t + i * 300, `${v}-c${i}`), url: `${base}/products/p${i}` }));
  return [{ scenario: s, expect: `bot_session for session ${v}-s (after the model trained and the session closed)`, ua: USER_AGENTS[0], ip: '91.198.174.192', events }];
}

/** True while `purchases-stop` keeps visits from buying: minutes 20-35 of every hour since `startedAt`. */
export function purchasesStopped(startedAt: number, now: number): boolean {
  const m = ((now - startedAt) / 60_000) % 60;
  return now - startedAt >= 20 * 60_000 && m >= 20 && m < 35;
}
