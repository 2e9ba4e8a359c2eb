/**
 * bench:gateway's overload phase: paced open-loop load at multiples of the gateway's measured
 * maximum. What is accepted must stay fast (shedding, gateway/admission.ts); what is refused must
 * be refused at once; memory bounded.
 */
import { readFileSync } from 'node:fs';
import type { BodyPool } from './bodies.js';
import { EVENTS_PATH } from './measure.js';
import { pacedLoad } from './paced.js';
import { log } from './run.js';
import { int, ms, pct, percentile, table } from './stats.js';

export interface OverloadRun {
  factor: number;
  rate: number;
  /** Requests answered 200 (each holds pool.eventsPerBody events, all acknowledged). */
  acceptedRequests: number;
  acceptedEventsPerS: number;
  shedShare: number;
  acceptedP50: number;
  acceptedP99: number;
  shedP99: number;
  otherFailures: number;
  peakRssMb: number;
  rssBeforeMb: number;
}

const rssMb = (pid: number) => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
};

/** Runs one phase per factor against the gateway on `port` (process `pid`, whose RSS is sampled). */
export async function overloadPhases(opts: { pid: number; port: number; pool: BodyPool; maxReqPerS: number; factors: number[]; durationS: number }): Promise<OverloadRun[]> {
  const runs: OverloadRun[] = [];
  // Nothing to multiply when the gateway took nothing (a broken run): the phases would send nothing.
  for (const factor of opts.maxReqPerS >= 1 ? opts.factors : []) {
    const rate = Math.round(opts.maxReqPerS * factor);
    const accepted: number[] = [];
    const shed: number[] = [];
    let other = 0;
    const rssBefore = rssMb(opts.pid);
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(opts.pid))), 100);
    const r = await pacedLoad({
      port: opts.port,
      path: EVENTS_PATH,
      rate,
      durationS: opts.durationS,
      next: () => opts.pool.next(),
      maxSockets: 1024,
      onResponse: (status, due) => {
        const latency = performance.now() - due;
        if (status === 200) accepted.push(latency);
        else if (status === 503) shed.push(latency);
        else other++;
      },
    });
    clearInterval(sampler);
    const o: OverloadRun = {
      factor,
      rate,
      acceptedRequests: accepted.length,
      acceptedEventsPerS: (accepted.length * opts.pool.eventsPerBody) / r.seconds,
      shedShare: shed.length / Math.max(1, r.sent),
      acceptedP50: percentile(accepted, 50),
      acceptedP99: percentile(accepted, 99),
      shedP99: percentile(shed, 99),
      otherFailures: other + r.errors,
      peakRssMb: peak,
      rssBeforeMb: rssBefore,
    };
    runs.push(o);
    log(`overload ${factor}x (${int(rate)} req/s offered): ${int(o.acceptedEventsPerS)} events/s accepted, ${pct(o.shedShare)} shed, accepted p99 ${ms(o.acceptedP99)}, shed p99 ${ms(o.shedP99)}, peak RSS ${int(peak)} MB`);
    // Let the queue drain and the clients' sockets close before the next phase.
    await new Promise((res) => setTimeout(res, 3000));
  }
  return runs;
}

/** The overload table of the final report. */
export function overloadReport(runs: OverloadRun[], opts: { durationS: number; maxReqPerS: number; maxEventsPerS: number }): string {
  return [
    `overload (paced open loop, ${opts.durationS} s each, multiples of the measured max ${int(opts.maxReqPerS)} req/s; GATEWAY_MAX_QUEUE_DELAY_MS default):`,
    table(
      ['offered', 'req/s', 'accepted events/s', 'vs max', 'shed share', 'accepted p50', 'accepted p99', 'shed p99', 'other failures', 'RSS before -> peak'],
      runs.map((o) => [
        `${o.factor}x`,
        int(o.rate),
        int(o.acceptedEventsPerS),
        pct(o.acceptedEventsPerS / opts.maxEventsPerS),
        pct(o.shedShare),
        ms(o.acceptedP50),
        ms(o.acceptedP99),
        ms(o.shedP99),
        o.otherFailures,
        `${int(o.rssBeforeMb)} -> ${int(o.peakRssMb)} MB`,
      ]),
    ),
  ].join('\n');
}
