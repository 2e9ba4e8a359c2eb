/** One step of a test's teardown: what it closes, and how. */
export type TeardownStep = [what: string, step: () => Promise<unknown> | undefined];

/**
 * Runs every step in order, each even when an earlier one failed (a test that failed half-way
 * must still stop its browser, processor and gateway), logging what could not be closed.
 */
export async function closeInOrder(steps: TeardownStep[]): Promise<void> {
  for (const [what, step] of steps) {
    try {
      await step();
    } catch (err) {
      console.error(`afterAll: closing ${what} failed`, err);
    }
  }
}
