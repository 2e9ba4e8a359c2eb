/**
 * The most an overload phase could accept on this machine's cores, from what each kind of work
 * costs there: the generator's CPU per request sent, the CPU per request shed, and the CPU per
 * request accepted at the maximum (gateway and broker: the maximum is where requests batch best,
 * so an accepted request under overload costs at least that). Whatever the gateway's rules, the
 * cores cannot hold more: when this ceiling is under the target, the target cannot be met on this
 * machine with this generator, and the ceilings without the generator say whether a client on
 * another machine could.
 *
 * With R requests/s offered, a accepted: R·g + (R − a)·s + a·c <= cores, so
 * a <= (cores − R·(g + s)) / (c − s), at most R and at least 0.
 */
import { availableParallelism } from 'node:os';

export interface CeilingInput {
  /** Cores of the machine (every process measured shares them). */
  cores: number;
  /** Requests offered per second. */
  rate: number;
  /** Requests per second the gateway accepted at its maximum (the share's denominator). */
  maxReqPerS: number;
  /** CPU per request accepted, gateway and broker, at the maximum (ms). */
  acceptedCpuMs: number;
  /** The generator's CPU per request sent (µs); 0 for a generator on another machine. */
  loadgenUs: number;
  /** CPU per request shed (µs); 0 for sheds that cost nothing. */
  shedUs: number;
}

/** The most requests/s the cores allow to be accepted, as a share of the maximum. */
export function acceptedCeiling(x: CeilingInput): number {
  const c = x.acceptedCpuMs / 1000;
  const s = x.shedUs / 1e6;
  const g = x.loadgenUs / 1e6;
  if (!(c > s) || !(x.maxReqPerS > 0)) return NaN;
  const a = (x.cores - x.rate * (g + s)) / (c - s);
  return Math.min(x.rate, Math.max(0, a)) / x.maxReqPerS;
}

/** An overload phase's ceilings (shares of the maximum), each under other costs of the work around the gateway. */
export interface PhaseCeiling {
  cores: number;
  /** CPU per accepted request, gateway and broker, at the maximum (ms). */
  acceptedCpuMs: number;
  loadgenUs: number;
  /** The phase's own estimate of a shed's CPU (µs; NaN when it had none). */
  shedUs: number;
  /** This generator on this machine, sheds at the phase's cost. */
  asMeasured: number;
  /** This generator, sheds free: the generator alone against the target. */
  freeSheds: number;
  /** A generator on another machine, sheds at the phase's cost. */
  generatorElsewhere: number;
}

/** The ceilings of a phase at `rate` on this machine's cores. */
export function phaseCeiling(x: Omit<CeilingInput, 'cores'>, cores = availableParallelism()): PhaseCeiling {
  const shedUs = Number.isFinite(x.shedUs) && x.shedUs > 0 ? x.shedUs : 0;
  const at = (loadgenUs: number, sheds: number) => acceptedCeiling({ ...x, cores, loadgenUs, shedUs: sheds });
  return { cores, acceptedCpuMs: x.acceptedCpuMs, loadgenUs: x.loadgenUs, shedUs: x.shedUs, asMeasured: at(x.loadgenUs, shedUs), freeSheds: at(x.loadgenUs, 0), generatorElsewhere: at(0, shedUs) };
}
