import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { afterEach, expect, test } from 'vitest';

/**
 * GATEWAY_WORKERS: the real gateway/server.ts as a primary with worker processes (no Kafka: the
 * workers answer /healthz, and 503 on /readyz, without one). Processes on loopback, killed by pid
 * at the end.
 */
const PORT = 28391;
let primary: ChildProcess | null = null;
afterEach(() => {
  if (primary?.exitCode === null) primary.kill('SIGKILL');
  for (const pid of workerPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  workerPids.clear();
  primary = null;
});
const workerPids = new Set<number>();

function start(env: Record<string, string>) {
  const out: string[] = [];
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/server.ts'], {
    env: { ...process.env, GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(PORT), KAFKA_BROKERS: '127.0.0.1:1', LOG_LEVEL: 'warn', SITES: '', SITES_FILE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out, exited, text: () => out.join('') };
}

async function until<T>(f: () => T | undefined, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The backlog of each socket listening on `port` (iproute2's ss shows it as Send-Q of a LISTEN socket). */
function listenBacklogs(port: number): number[] {
  const out = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => Number(line.trim().split(/\s+/)[2]));
}

/** The pids holding a socket listening on `port` (a process that accepts from it holds it). */
function listenerPids(port: number): Set<number> {
  const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  return new Set([...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])));
}

const listening = (text: string) => [...text.matchAll(/gateway worker (\d+) \(pid (\d+)\) listening on port (\d+)/g)].map((m) => ({ slot: Number(m[1]), pid: Number(m[2]), port: Number(m[3]) }));

test('GATEWAY_WORKERS=2: two processes share the port; one killed is replaced; SIGTERM stops them all', async () => {
  const g = start({ GATEWAY_WORKERS: '2', GATEWAY_LISTEN_BACKLOG: '1234' });
  primary = g.child;
  const two = await until(() => (listening(g.text()).length >= 2 ? listening(g.text()) : undefined), 60_000);
  for (const w of two) workerPids.add(w.pid);
  expect(new Set(two.map((w) => w.slot))).toEqual(new Set([0, 1]));
  expect(two.every((w) => w.port === PORT)).toBe(true);
  expect(two[0].pid).not.toBe(two[1].pid);
  expect((await fetch(`http://127.0.0.1:${PORT}/healthz`)).status).toBe(200);
  // One socket, shared by the workers (each accepts from it), with the configured accept queue.
  expect(listenBacklogs(PORT)).toEqual([1234]);
  // Both workers hold it: each accepts its own connections (no round robin through the primary).
  const holders = listenerPids(PORT);
  for (const w of two) expect(holders.has(w.pid)).toBe(true);

  process.kill(two[0].pid, 'SIGKILL');
  const third = await until(() => listening(g.text()).find((w) => !two.some((x) => x.pid === w.pid)), 60_000);
  workerPids.add(third.pid);
  expect(third.slot).toBe(two[0].slot);
  expect(g.text()).toMatch(new RegExp(`gateway worker ${two[0].slot} \\(pid ${two[0].pid}\\) exited \\(SIGKILL\\): starting another`));
  expect((await fetch(`http://127.0.0.1:${PORT}/healthz`)).status).toBe(200);

  g.child.kill('SIGTERM');
  expect(await g.exited).toBe(0);
  for (const pid of [two[1].pid, third.pid]) expect(() => process.kill(pid, 0)).toThrow();
}, 120_000);

test('one process listens with GATEWAY_LISTEN_BACKLOG as its accept queue', async () => {
  const g = start({ GATEWAY_LISTEN_BACKLOG: '777' });
  primary = g.child;
  const end = Date.now() + 60_000;
  while (listenBacklogs(PORT).length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  expect(listenBacklogs(PORT)).toEqual([777]);
  g.child.kill('SIGTERM');
  expect(await g.exited).toBe(0);
}, 90_000);

test('GATEWAY_WORKERS=0 is a configuration error (exit 2, nothing listens)', async () => {
  const g = start({ GATEWAY_WORKERS: '0' });
  primary = g.child;
  expect(await g.exited).toBe(2);
  expect(g.text()).toMatch(/GATEWAY_WORKERS must be at least 1/);
}, 60_000);
