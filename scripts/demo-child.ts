import { spawn, type ChildProcess } from 'node:child_process';
import { sleep } from '../common/wait.js';

export interface DemoChildOptions {
  /** Used in the demo's messages: processor, gateway. */
  name: string;
  /** Node's arguments (flags, then the entry file). */
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Waited after an unexpected exit before starting it again (ms). */
  restartMs: number;
  /** Said after "starting it again in N s". */
  restartNote?: string;
  /** After SIGTERM, how long stop() waits before SIGKILL (ms). */
  graceMs: number;
  /**
   * A process group of its own and an IPC channel: a terminal's Ctrl-C reaches the demo only, which
   * stops the child with one signal (a gateway primary passes it on to its workers: a second one
   * from the terminal would cut their graceful shutdown short), and the child sees the channel
   * close if the demo dies without stopping it.
   */
  ownGroup?: boolean;
  /** An exit with this code is not restarted (restarting cannot help): `onFatal` is called instead. */
  fatalExitCode?: number;
  onFatal?: () => void;
}

/** A service the demo runs as a Node child process and supervises as a process manager would. */
export class DemoChild {
  private child: ChildProcess;
  private stopping = false;

  constructor(private readonly opts: DemoChildOptions) {
    this.child = this.start();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private start(): ChildProcess {
    const o = this.opts;
    const child = spawn(process.execPath, o.args, {
      cwd: o.cwd,
      env: o.env,
      stdio: o.ownGroup ? ['ignore', 'inherit', 'inherit', 'ipc'] : 'inherit',
      detached: o.ownGroup ?? false,
    });
    child.on('error', () => {
      // 'exit' follows
    });
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      if (o.fatalExitCode !== undefined && code === o.fatalExitCode) return o.onFatal?.();
      console.log(`› ${o.name} exited (${signal ?? `code ${code}`}); starting it again in ${o.restartMs / 1000} s${o.restartNote ?? ''}`);
      setTimeout(() => {
        if (!this.stopping) this.child = this.start();
      }, o.restartMs);
    });
    return child;
  }

  /** SIGTERM, and SIGKILL if it has not exited within the grace period; no restart after. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.running) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await Promise.race([exited, sleep(this.opts.graceMs)]);
    if (this.running) this.child.kill('SIGKILL');
  }

  /** For the demo's own 'exit' (synchronous): a child still running gets SIGTERM. */
  terminate(): void {
    this.stopping = true;
    if (this.running) this.child.kill('SIGTERM');
  }
}
