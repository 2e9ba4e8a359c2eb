import { performance } from 'node:perf_hooks';

/**
 * How long a request read now has waited before the gateway got to it: the queue that admission
 * control cannot see from its own bookkeeping.
 *
 * Under overload the gateway's single thread is busy, and new requests wait in the kernel's socket
 * buffers (and in the accept queue) until the event loop polls again: nothing in the process knows
 * they are there. What the process can know is how its loop turns go. One poll returns every
 * request that arrived before it, and the loop then works through them (and through Kafka
 * acknowledgements, answers ...) before it polls again. So a request read now arrived before the
 * loop began reading this batch, and has waited at least
 *
 *   wait(now) >= now - (time the loop began reading the current batch)
 *
 * while every request arriving meanwhile waits for the batch to end. A batch of reads starts with
 * the first request read after a probe timer fired (`read()` arms the probe: one timer per loop
 * turn that reads requests, none while idle); the probe fires at the start of the next turn.
 * Shedding the rest of a batch once this passes a bound keeps every turn short, and so bounds
 * both how long an admitted request waited unread and how long a shed one waits for its answer.
 *
 * The loop's idle time (`performance.eventLoopUtilization`) gives its utilisation over the last
 * `windowMs`: a long turn on a loop that is mostly idle (a garbage collection, one slow scrape) is
 * not an overload, so admission sheds on the wait only while the loop is busy.
 *
 * That utilisation is a share of wall time, and on a machine short of CPU a turn's wall time is
 * mostly waiting for a core: an idle process whose few timers each wait tens of ms to run reads
 * busy. `runShare` leaves that wait out: the thread's CPU time against its CPU time plus its idle
 * time, i.e. of the time it either worked or waited for work, how much it worked. A process that
 * never waits for work (saturated, starved or not) still reads 1.
 */
export interface LoopClock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Cumulative milliseconds the event loop has spent idle (waiting in poll). */
  idleMs(): number;
  /** Cumulative CPU milliseconds of the loop's thread; absent: `runShare` is the utilisation. */
  cpuMs?(): number;
  /** Runs fn once after about `ms` (in the next loop turn at the earliest). */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Runs fn every `ms` until the returned handle is cleared; must not keep the process alive. */
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const realLoopClock: LoopClock = {
  now: () => performance.now(),
  idleMs: () => performance.eventLoopUtilization().idle,
  cpuMs: () => {
    const u = process.threadCpuUsage();
    return (u.user + u.system) / 1000;
  },
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

export class LoopLag {
  private pending = false;
  /** When the loop began reading the current batch of requests, and how many it has read. */
  private batchStart = 0;
  private reads = 0;
  private lastRead = 0;
  private lastTurn = 0;
  private util = 0;
  private utilAt = 0;
  private utilIdle = 0;
  private run = 0;
  private utilCpu = 0;
  private sampler: unknown = null;
  private readonly probe = () => this.fired();

  constructor(
    /** Utilisation is measured over windows of this many ms. */
    private readonly windowMs = 250,
    private readonly clock: LoopClock = realLoopClock,
    /** Called at the end of every batch of reads with how long it kept the loop from its timers (ms). */
    private readonly onTurn?: (ms: number) => void,
  ) {}

  /** Called once when the gateway is built: begins the utilisation windows. */
  start(): void {
    if (this.sampler !== null) return;
    this.restart();
    this.sampler = this.clock.setInterval(() => this.sample(), this.windowMs);
  }

  /** The current window starts now: what came before (a process's start-up work) is not counted. */
  restart(): void {
    this.utilAt = this.clock.now();
    this.utilIdle = this.clock.idleMs();
    this.utilCpu = this.clock.cpuMs?.() ?? 0;
    this.util = 0;
    this.run = 0;
  }

  /** Called when the gateway closes. */
  stop(): void {
    if (this.sampler !== null) this.clock.clearInterval(this.sampler);
    this.sampler = null;
  }

  /** Called for every request the gateway reads (onRequest, before its body): how long it has waited at least, in ms. */
  read(): number {
    const now = this.clock.now();
    if (!this.pending) {
      // The first read since the probe fired: a new batch.
      this.batchStart = now;
      this.reads = 0;
      this.pending = true;
      this.clock.setTimeout(this.probe, 1);
    }
    this.reads++;
    this.lastRead = now - this.batchStart;
    return this.lastRead;
  }

  /** What the last `read` returned (ms). */
  get lastReadWaitMs(): number {
    return this.lastRead;
  }

  /** Requests read in the current batch so far, this one included. */
  get batchReads(): number {
    return this.reads;
  }

  /** The probe: the loop came back to its timers, so the batch that armed it is over. */
  private fired(): void {
    this.pending = false;
    this.lastTurn = this.clock.now() - this.batchStart;
    this.onTurn?.(this.lastTurn);
  }

  private sample(): void {
    const now = this.clock.now();
    const idle = this.clock.idleMs();
    const cpu = this.clock.cpuMs?.();
    const span = now - this.utilAt;
    if (span > 0) this.util = Math.min(1, Math.max(0, 1 - (idle - this.utilIdle) / span));
    if (cpu === undefined) this.run = this.util;
    else {
      const worked = Math.max(0, cpu - this.utilCpu);
      const waited = Math.max(0, idle - this.utilIdle);
      if (worked + waited > 0) this.run = Math.min(1, worked / (worked + waited));
      this.utilCpu = cpu;
    }
    this.utilAt = now;
    this.utilIdle = idle;
  }

  /** Of the last window's time the thread worked or waited for work, the share it worked (0..1): the utilisation without the time it waited for a core. */
  get runShare(): number {
    return this.run;
  }

  /** Share of the last window (0..1) the event loop was busy. */
  get utilisation(): number {
    return this.util;
  }

  /** How long the last batch of reads kept the loop from its timers (ms): the current turn length, for metrics. */
  get lastTurnMs(): number {
    return this.lastTurn;
  }
}
