/**
 * Half an hour of the demo's shoppers with every DEMO_SCENARIO injected (scripts/demo-scenarios.ts),
 * in event time before `now`, cut into the requests a test posts to the real gateway: the same
 * visits the demo's traffic generator makes (`makeVisit`, purchases left out while
 * `purchasesStopped`), the same injected visits (`scenarioVisits`), at 1 visit a second.
 *
 * Half an hour of past event time is what the site-level detector needs to know the site's usual
 * conversion before `purchases-stop` (20 minutes in) and what the bot-session model needs to train
 * on (hundreds of closed sessions) before `bot-session` closes; posting it takes seconds, and it goes
 * the processor's own way (gateway, Kafka, KPI windows read back by the site monitor).
 *
 * Requests: events in time order, cut every 20 s of event time and grouped by client (user agent
 * + IP, sent as X-Forwarded-For), so no event is more than 20 s behind another of its partition
 * (well within KPI_ALLOWED_LATENESS_S). Each client IP has one user agent.
 */
import type { ClientEvent } from '../../contracts/event-schema.js';
import { purchasesStopped, scenarioVisits } from '../../scripts/demo-scenarios.js';
import { CLIENT_IPS, USER_AGENTS, makeVisit, rng, type Visit } from '../../scripts/traffic-generator.js';

export interface ClientRequest {
  /** Requests of the same chunk (20 s of event time) may be sent at once; chunks in order. */
  chunk: number;
  ua: string;
  ip: string;
  events: ClientEvent[];
}

export interface ScenarioTraffic {
  requests: ClientRequest[];
  /** Start of the traffic (whole minute): `purchasesStopped` counts from here. */
  startedAt: number;
  clickBurst: { visitor: string; crossing: ClientEvent };
  networkBurst: { visitors: string[]; ip: string };
  bot: { session: string; lastTs: number };
  /** Event time from which visits stop buying (to the end of the traffic). */
  stopFrom: number;
}

const CHUNK_MS = 20_000;

export function scenarioTraffic(now: number, seed = 7): ScenarioTraffic {
  const r = rng(seed);
  const startedAt = Math.floor((now - 31 * 60_000) / 60_000) * 60_000;
  const end = now - 5000;
  const visits: Visit[] = [];
  for (let t = startedAt; t < now - 60_000; t += 1000) {
    const v = makeVisit(r, t);
    v.ua = USER_AGENTS[CLIENT_IPS.indexOf(v.ip) % USER_AGENTS.length];
    if (purchasesStopped(startedAt, t)) v.events = v.events.filter((e) => e.type !== 'purchase');
    v.events = v.events.filter((e) => e.ts <= end);
    visits.push(v);
  }
  const [bot] = scenarioVisits('bot-session', now - 7 * 60_000, 0);
  const [burst] = scenarioVisits('click-burst', now - 4 * 60_000, 0);
  const network = scenarioVisits('network-burst', now - 3 * 60_000, 0);
  visits.push(bot, burst, ...network);

  const tagged = visits.flatMap((v) => v.events.map((e) => ({ e, client: `${v.ua}\n${v.ip}` }))).sort((a, b) => a.e.ts - b.e.ts);
  const requests: ClientRequest[] = [];
  for (let i = 0, chunk = 0; i < tagged.length; chunk++) {
    const chunkEnd = tagged[i].e.ts + CHUNK_MS;
    const byClient = new Map<string, ClientEvent[]>();
    for (; i < tagged.length && tagged[i].e.ts < chunkEnd; i++) {
      const list = byClient.get(tagged[i].client) ?? [];
      list.push(tagged[i].e);
      byClient.set(tagged[i].client, list);
    }
    for (const [client, events] of byClient) {
      const [ua, ip] = client.split('\n');
      requests.push({ chunk, ua, ip, events });
    }
  }
  const clicks = burst.events.filter((e) => e.type === 'click');
  return {
    requests,
    startedAt,
    // The 8th click in 10 s crosses the default floor (ANOMALY_BURST_SPANS 10:8).
    clickBurst: { visitor: burst.events[0].visitor_id, crossing: clicks[7] },
    networkBurst: { visitors: network.map((v) => v.events[0].visitor_id), ip: network[0].ip },
    bot: { session: bot.events[0].session_id, lastTs: bot.events.at(-1)!.ts },
    stopFrom: startedAt + 20 * 60_000,
  };
}
