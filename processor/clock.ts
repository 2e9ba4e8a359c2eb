/** The coordinator's time, injected so its unit tests run on a fake clock. */
export interface Clock {
  /** Called for every timing decision (flush due, stall): milliseconds, monotonic. */
  now(): number;
  /** Called between flush retries and while waiting for a flush. */
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};
