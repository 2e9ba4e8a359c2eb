import { readFileSync } from 'node:fs';

/**
 * The host's CPU pressure (Linux PSI, `/proc/pressure/cpu`): the share of wall time in which at
 * least one runnable task waited for a CPU. Unlike CPU utilisation it tells a busy host from a
 * contended one: raw indexing alone with Elasticsearch on 2 cores ran at 20-50 %, the whole
 * pipeline at 10,000 events/s at 84-96 % (bench/README.md). The kernel's 10 s average is used, not
 * a share computed over a shorter span: quarter-second shares at 10,000 events/s dipped under any
 * bound often enough to let most held bulks through.
 */
export const PRESSURE_FILE = '/proc/pressure/cpu';

/** The `some` line's 10 s average as a share (0..1), or null when absent. */
export function parsePressure(text: string): number | null {
  const m = /^some\b.*\bavg10=(\d+(?:\.\d+)?)/m.exec(text);
  return m ? Number(m[1]) / 100 : null;
}

/** Reads the pressure every `intervalMs` in the background; `share` is the last reading. */
export class CpuPressure {
  private current: number | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly read: () => string = () => readFileSync(PRESSURE_FILE, 'utf8')) {}

  /** Called once when the role starts; false (and nothing running) where the kernel has no PSI. */
  start(intervalMs: number): boolean {
    if (!this.sample()) return false;
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
    return true;
  }

  /** Called at shutdown. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The last reading (0..1), null without PSI. */
  get share(): number | null {
    return this.current;
  }

  /** Takes one reading (also called by `start`); false when there is none. */
  sample(): boolean {
    try {
      this.current = parsePressure(this.read());
    } catch {
      this.current = null;
    }
    return this.current !== null;
  }
}
