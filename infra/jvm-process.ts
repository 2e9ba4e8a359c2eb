import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, statSync, fstatSync } from 'node:fs';
import path from 'node:path';

/**
 * A child JVM that cannot outlive this Node process:
 * - it runs in its own process group (spawn `detached`), so a signal reaches every JVM it forks
 *   (Elasticsearch's launcher forks the server JVM) and a terminal's Ctrl-C reaches Node first;
 * - stop() sends SIGTERM to the group, waits, then SIGKILL;
 * - on Node's 'exit' every live group gets SIGTERM;
 * - a tiny shell watchdog (started per JVM, in its own group) polls Node's pid once a second: if
 *   Node dies without cleaning up (SIGKILL, crash), it sends SIGTERM to the JVM's group and SIGKILL
 *   after a grace period. The watchdog quits by itself once the JVM is gone.
 */

export interface JvmSpawnOptions {
  /** Short name used in messages: kafka, elasticsearch. */
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here. */
  logFile: string;
  /** Run as this uid/gid (Elasticsearch's fallback when run by root on Java 21+). */
  uid?: number;
  gid?: number;
  /** Seconds between the watchdog's SIGTERM and its SIGKILL. */
  watchdogGraceS?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<JvmProcess>();
let exitHookInstalled = false;

// $1 parent pid, $2 process group of the JVM, $3 grace seconds. dash's kill wants `-PGID`, not `-- -PGID`.
const WATCHDOG = `
p=$1; g=$2; grace=$3
while kill -0 "$p" 2>/dev/null && kill -0 -"$g" 2>/dev/null; do sleep 1; done
kill -0 -"$g" 2>/dev/null || exit 0
kill -TERM -"$g" 2>/dev/null
i=0
while [ "$i" -lt "$grace" ] && kill -0 -"$g" 2>/dev/null; do sleep 1; i=$((i+1)); done
kill -KILL -"$g" 2>/dev/null
exit 0
`;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) if (p.alive) p.signalGroup('SIGTERM');
  });
}

/** Keeps a log that is appended to across restarts from growing without bound. */
function rotateIfLarge(file: string, maxBytes = 20 * 1024 * 1024): void {
  try {
    if (statSync(file).size > maxBytes) renameSync(file, `${file}.1`);
  } catch {
    // no log yet
  }
}

export class JvmProcess {
  readonly name: string;
  readonly logFile: string;
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | null = null;
  private stopping = false;
  private readonly child: ChildProcess;
  private readonly watchdog: ChildProcess | undefined;
  /** Called once when the JVM exits without stop() or kill() having been asked. */
  onUnexpectedExit: ((info: ExitInfo) => void) | undefined;

  constructor(opts: JvmSpawnOptions) {
    this.name = opts.name;
    this.logFile = opts.logFile;
    mkdirSync(path.dirname(opts.logFile), { recursive: true });
    rotateIfLarge(opts.logFile);
    const fd = openSync(opts.logFile, 'a');
    try {
      this.child = spawn(opts.command, opts.args, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: ['ignore', fd, fd],
        detached: true,
        uid: opts.uid,
        gid: opts.gid,
      });
    } finally {
      closeSync(fd);
    }
    if (this.child.pid === undefined) {
      throw new Error(`${opts.name}: could not start ${opts.command}`);
    }
    this.pid = this.child.pid;
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        if (this.watchdog?.pid !== undefined && this.watchdog.exitCode === null) {
          try {
            process.kill(this.watchdog.pid, 'SIGTERM');
          } catch {
            // already gone
          }
        }
        if (!this.stopping) this.onUnexpectedExit?.(this.exitInfo);
        resolve(this.exitInfo);
      });
    });
    this.child.on('error', () => {
      // 'exit' follows, or spawn itself failed (pid undefined, thrown above)
    });
    installExitHook();
    live.add(this);
    this.watchdog = spawn('sh', ['-c', WATCHDOG, `${opts.name}-watchdog`, String(process.pid), String(this.pid), String(opts.watchdogGraceS ?? 15)], {
      detached: true,
      stdio: 'ignore',
    });
    this.watchdog.on('error', () => {});
    this.watchdog.unref();
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  get exit(): ExitInfo | null {
    return this.exitInfo;
  }

  /** Sends a signal to the JVM's whole process group; false when the group is empty. */
  signalGroup(signal: NodeJS.Signals | 0): boolean {
    try {
      process.kill(-this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGTERM, then SIGKILL when the JVM has not exited within timeoutMs. */
  async stop(timeoutMs = 30_000): Promise<ExitInfo> {
    this.stopping = true;
    if (!this.alive) {
      this.signalGroup('SIGKILL');
      await this.groupGone(5_000);
      return this.exitInfo!;
    }
    this.signalGroup('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first === 'timeout') {
      this.signalGroup('SIGKILL');
      const info = await this.exited;
      await this.groupGone(5_000);
      return info;
    }
    // The launcher can exit just before a JVM it forked: give that one a moment, then make sure.
    await this.groupGone(5_000);
    this.signalGroup('SIGKILL');
    await this.groupGone(5_000);
    return first;
  }

  /** SIGKILL at once, as a crash would (no clean shutdown); resolves once every process of the group is gone. */
  async kill(): Promise<ExitInfo> {
    this.stopping = true;
    this.signalGroup('SIGKILL');
    const info = await this.exited;
    await this.groupGone(10_000);
    return info;
  }

  /** Waits until no process of the group is left (its ports are free then), at most timeoutMs. */
  private async groupGone(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.signalGroup(0)) {
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return true;
  }
}

/** Every JVM started by this process and still running. */
export function liveProcesses(): JvmProcess[] {
  return [...live];
}

/** The last `lines` lines of a log file (reads at most the last 64 KiB). */
export function tailFile(file: string, lines = 40): string {
  if (!existsSync(file)) return `(no log at ${file})`;
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8').split('\n').slice(-lines - 1).join('\n').trimEnd();
  } finally {
    closeSync(fd);
  }
}
