/**
 * The frame of a benchmark run: every resource registers its own cleanup, and cleanups run in
 * reverse order whatever happens (success, exception, SIGINT / SIGTERM, or the run's deadline),
 * so Kafka, Elasticsearch and the child processes never outlive a run.
 */
type Cleanup = () => Promise<unknown> | unknown;

const cleanups: { name: string; fn: Cleanup }[] = [];
let cleaning: Promise<void> | null = null;

export function onCleanup(name: string, fn: Cleanup): void {
  cleanups.push({ name, fn });
}

function runCleanups(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const c = cleanups.pop()!;
      try {
        await c.fn();
      } catch (err) {
        console.error(`[bench] cleanup ${c.name} failed: ${(err as Error).message}`);
      }
    }
  })();
  return cleaning;
}

export function log(msg: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

/** Runs `body` with a hard deadline (seconds); exits 0 on success, 1 on failure, 3 on timeout. */
export async function runBench(name: string, deadlineS: number, body: () => Promise<void>): Promise<never> {
  // process.on, not once: infra's own handler stands back while another listener is registered.
  let signalled = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (signalled) return;
      signalled = true;
      log(`${sig}: stopping`);
      void runCleanups().then(() => process.exit(130));
    });
  }
  const deadline = setTimeout(() => {
    console.error(`[bench] ${name} exceeded its deadline of ${deadlineS} s; stopping`);
    void runCleanups().then(() => process.exit(3));
  }, deadlineS * 1000);
  deadline.unref();
  let code = 0;
  try {
    await body();
  } catch (err) {
    console.error(`[bench] ${name} failed:`, err);
    code = 1;
  }
  await runCleanups();
  process.exit(code);
}

