import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../infra/paths.js';
import { tailFile } from '../../infra/jvm-process.js';
import { sleep } from '../../common/wait.js';

const GUARD = path.join(PROJECT_ROOT, 'bench', 'lib', 'orphan-guard.ts');

/** CPU seconds (user + system, all threads) a process has used so far, from /proc. */
export function cpuSecondsOf(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 14 and 15 of stat (utime, stime), counted from after the command name.
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds of a JVM's JIT compiler threads (HotSpot names them "C1 CompilerThre..." and "C2
 * CompilerThre..."): a broker that has just started compiles its hot paths under the first load,
 * on the cores the gateway shares with it.
 */
export function jitCpuSecondsOf(pid: number | undefined): number {
  if (!pid) return NaN;
  let total = 0;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        if (!/^C[12] Compiler/.test(comm)) continue;
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        total += (Number(f[11]) + Number(f[12])) / 100;
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    return NaN;
  }
  return total;
}

/** CPU seconds of a process and all its descendants (Elasticsearch's launcher forks the server JVM). */
export function cpuSecondsOfTree(pid: number | undefined): number {
  if (!pid) return NaN;
  let total = cpuSecondsOf(pid);
  if (!Number.isFinite(total)) return NaN;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const k of kids ? kids.split(/\s+/) : []) {
        const c = cpuSecondsOfTree(Number(k));
        if (Number.isFinite(c)) total += c;
      }
    }
  } catch {
    // the process or a task went away meanwhile
  }
  return total;
}

/** Resident memory (MB) of a process and all its descendants (a supervisor and its workers). */
export function rssMbOfTree(pid: number | undefined): number {
  if (!pid) return NaN;
  let total = 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (!m) return NaN;
    total = Number(m[1]) / 1024;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const k of kids ? kids.split(/\s+/) : []) {
        const c = rssMbOfTree(Number(k));
        if (Number.isFinite(c)) total += c;
      }
    }
  } catch {
    // the process or a task went away meanwhile
  }
  return total;
}

/**
 * A TypeScript entry point of the project run in its own Node process (`node --import tsx`), its
 * output in a log file, stopped with SIGTERM (then SIGKILL) by its own pid.
 */
export class NodeChild {
  readonly pid: number;
  readonly logFile: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private done = false;

  constructor(
    readonly name: string,
    script: string,
    opts: { env: NodeJS.ProcessEnv; logFile: string; nodeFlags?: string[]; args?: string[] },
  ) {
    mkdirSync(path.dirname(opts.logFile), { recursive: true });
    const fd = openSync(opts.logFile, 'w');
    try {
      this.child = spawn(process.execPath, [...(opts.nodeFlags ?? []), '--import', 'tsx', '--import', GUARD, script, ...(opts.args ?? [])], {
        cwd: PROJECT_ROOT,
        env: opts.env,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    if (this.child.pid === undefined) throw new Error(`${name}: could not start`);
    this.pid = this.child.pid;
    this.logFile = opts.logFile;
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.done = true;
        resolve({ code, signal });
      }),
    );
    this.child.on('error', () => {});
  }

  get alive(): boolean {
    return !this.done;
  }

  cpuSeconds(): number {
    return cpuSecondsOf(this.alive ? this.pid : undefined);
  }

  /** Polls `ready` (every 100 ms) until true; fails when the process exits or after timeoutMs. */
  async waitReady(ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.alive) throw new Error(`${this.name} exited while starting; last lines of ${this.logFile}:\n${tailFile(this.logFile)}`);
      if (await ready().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${this.name} not ready after ${timeoutMs} ms; last lines of ${this.logFile}:\n${tailFile(this.logFile)}`);
      await sleep(100);
    }
  }

  async stop(timeoutMs = 20_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** True when GET url answers 200. */
export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status === 200;
}
