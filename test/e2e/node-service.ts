import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';

export interface NodeService {
  proc: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then SIGKILL after 10 s; resolves with the exit code (null when killed). */
  stop(): Promise<number | null>;
}

/**
 * Starts `node <script>` the way the image does (plain node, NODE_ENV=production, the current
 * directory elsewhere than the repository) with `env` on top of the test's, and waits until
 * `readyUrl` answers 200. Fails with the process's output when it exits or is not ready in time.
 */
export async function startNodeService(script: string, env: Record<string, string>, readyUrl: string, timeoutMs = 60_000): Promise<NodeService> {
  const proc = spawn(process.execPath, [script], { cwd: tmpdir(), env: { ...process.env, NODE_ENV: 'production', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const svc: NodeService = {
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${script} exited with ${proc.exitCode} before ${readyUrl} was ready:\n${out.slice(-3000)}`);
    try {
      if ((await fetch(readyUrl)).status === 200) return svc;
    } catch {}
    if (Date.now() > deadline) {
      await svc.stop();
      throw new Error(`${readyUrl} not ready after ${timeoutMs} ms:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
