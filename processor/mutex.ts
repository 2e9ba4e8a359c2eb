/** Runs one async section at a time: the coordinator's batches, flushes, rebalances and offset polls never interleave. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(f: () => Promise<T>): Promise<T> {
    const next = this.tail.then(f, f);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
