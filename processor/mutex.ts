/** Runs one async section at a time: the coordinator's batches, flushes, rebalances and offset polls never interleave. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  /** Clock time the running section started (null: free): a section that never ends blocks every other. */
  busySince: number | null = null;
  constructor(private readonly now: () => number = () => performance.now()) {}
  run<T>(f: () => Promise<T>): Promise<T> {
    const section = async () => {
      this.busySince = this.now();
      try {
        return await f();
      } finally {
        this.busySince = null;
      }
    };
    const next = this.tail.then(section, section);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
