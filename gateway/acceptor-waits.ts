/**
 * Whether a request the acceptor cannot hand over this moment is worth keeping for a process that
 * is not overloaded (acceptor.ts, `keptMaxWaitMs`), judged by how such waits ended lately.
 *
 * The wait pays when a process is held back for a moment: its hand-over channel busy for one long
 * turn, or a report of no room right after a busy spell (half load: a 503 spared). Under sustained
 * overload the process's room is spent as soon as it is reported, so nearly every wait ends in the
 * same 503, only later: each shed request then waited the whole bound for its answer (shed p50 24
 * ms at 5x with a 20 ms bound). So the acceptor counts how its recent waits ended, decayed with a
 * half-life of HALF_LIFE_MS; while at least EXPIRED_SHARE of them ended in a shed, a request that
 * cannot be handed over is shed at once, except one in PROBE_EVERY, which still waits, so that
 * waits paying off again (the overload over) are seen within a few reports.
 */

/** Half-life of the counts of recent waits (ms). */
export const HALF_LIFE_MS = 500;
/** Share of recent waits ended in a shed from which a request is shed at once. */
export const EXPIRED_SHARE = 0.8;
/** Fewest recent waits (decayed) to judge by. */
export const MIN_WAITS = 8;
/** One request in this many still waits while waits do not pay: few enough that the shed p99 is not a wait (under 1 %), enough to see recovery (80 a second at 10,000 sheds a second). */
export const PROBE_EVERY = 128;

export class AcceptorWaits {
  private handed = 0;
  private shed = 0;
  private at = 0;
  private skipped = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  private decay(): void {
    const t = this.now();
    const f = Math.pow(0.5, Math.max(0, t - this.at) / HALF_LIFE_MS);
    this.handed *= f;
    this.shed *= f;
    this.at = t;
  }

  /** Whether a request that cannot be handed over now should wait (true) or be shed at once. */
  worthWaiting(): boolean {
    if (!this.paysOff()) {
      if (++this.skipped % PROBE_EVERY !== 0) return false;
    }
    return true;
  }

  /** Whether recent waits ended in a hand-over often enough (or were too few to tell). */
  paysOff(): boolean {
    this.decay();
    const n = this.handed + this.shed;
    return n < MIN_WAITS || this.shed < EXPIRED_SHARE * n;
  }

  /** A request that waited was handed over (`true`) or shed after all (`false`). */
  ended(handedOver: boolean): void {
    this.decay();
    if (handedOver) this.handed++;
    else this.shed++;
  }

  /** The decayed counts, for the shed log. */
  get recent(): { handed: number; shed: number } {
    this.decay();
    return { handed: Math.round(this.handed * 10) / 10, shed: Math.round(this.shed * 10) / 10 };
  }
}
