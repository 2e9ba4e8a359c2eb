import { sleep } from '../common/wait.js';
import { tailFile, type JvmProcess } from './jvm-process.js';

/** One local JVM service (Kafka broker or Elasticsearch node) that can be stopped and started again on the same data. */
export interface Service {
  readonly name: string;
  /** True between a successful start() and stop()/kill() (or an unexpected exit). */
  readonly running: boolean;
  readonly pid: number | undefined;
  /** Where the JVM's output goes; its tail is quoted when the service fails to start. */
  readonly logFile: string;
  /** Starts the JVM on the existing data and resolves once it answers health checks. */
  start(): Promise<void>;
  /** SIGTERM, wait, SIGKILL; resolves once the JVM is gone. */
  stop(): Promise<void>;
  /** SIGKILL, like a crash. */
  kill(): Promise<void>;
}

export class StartError extends Error {}

/**
 * Polls `probe` until it resolves true. Fails fast when the JVM exits, and after `timeoutMs` with
 * the last error seen and the tail of the service's log.
 */
export async function waitHealthy(
  proc: JvmProcess,
  probe: () => Promise<boolean>,
  { timeoutMs, intervalMs = 250, what }: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    if (!proc.alive) {
      const e = proc.exit!;
      throw new StartError(
        `${proc.name} exited while starting (${e.signal ?? `exit code ${e.code}`}).\n--- last lines of ${proc.logFile} ---\n${tailFile(proc.logFile)}`,
      );
    }
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline) {
      throw new StartError(
        `${proc.name} was not healthy (${what}) after ${Math.round(timeoutMs / 1000)} s (START_TIMEOUT_S)` +
          `${lastError ? `; last error: ${lastError}` : ''}.\n--- last lines of ${proc.logFile} ---\n${tailFile(proc.logFile)}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** What a Kafka broker and an Elasticsearch node share: the JVM they run in and whether it passed its health check. */
export abstract class JvmService implements Service {
  abstract readonly name: string;
  abstract readonly logFile: string;
  protected proc: JvmProcess | undefined;
  protected healthy = false;

  abstract start(): Promise<void>;

  get running(): boolean {
    return this.healthy && !!this.proc?.alive;
  }

  get pid(): number | undefined {
    return this.proc?.alive ? this.proc.pid : undefined;
  }

  async stop(): Promise<void> {
    this.healthy = false;
    await this.proc?.stop(30_000);
  }

  async kill(): Promise<void> {
    this.healthy = false;
    await this.proc?.kill();
  }

  /** waitHealthy on the JVM just spawned; a JVM that never got healthy is stopped, not left behind. */
  protected async untilHealthy(proc: JvmProcess, probe: () => Promise<boolean>, opts: { timeoutMs: number; what: string }): Promise<void> {
    try {
      await waitHealthy(proc, probe, opts);
    } catch (err) {
      await proc.stop(5_000);
      throw err;
    }
  }
}
