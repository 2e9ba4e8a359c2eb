import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { freePort } from '../infra/ports.js';
import { parseConfig } from '../contracts/config.js';
import { workerHeapFlags, workerSettings } from './workers.js';

/**
 * GATEWAY_WORKERS: the real gateway/server.ts as a primary with worker processes (no Kafka: the
 * workers answer /healthz, and 503 on /readyz, without one). Processes on loopback, killed by pid
 * at the end. Each test on a port free at its start (a fixed one collided with another run of
 * the suite on the same machine). Waits end on what is awaited, or fail at once when the gateway
 * exits first: no deadline of their own (start-up compiles TypeScript in each process and takes
 * long on a loaded machine); the test's timeout bounds them. LOG_LEVEL info: the waits read the
 * primary's info lines (listening, ready behind the acceptor), which follow LOG_LEVEL.
 */
let PORT = 0;
beforeEach(async () => {
  PORT = await freePort();
});
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

/** `group`: in a process group of its own, as a terminal runs it (a Ctrl-C reaches every process). */
function start(env: Record<string, string>, group = false) {
  const out: string[] = [];
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/server.ts'], {
    env: { ...process.env, GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(PORT), KAFKA_BROKERS: '127.0.0.1:1', LOG_LEVEL: 'info', SITES: '', SITES_FILE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: group,
  });
  child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out, exited, text: () => out.join('') };
}

/** Polls `f` until it gives a value; throws with the gateway's output if the gateway exits first. */
async function until<T>(g: ReturnType<typeof start>, what: string, f: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (g.child.exitCode !== null || g.child.signalCode !== null) throw new Error(`the gateway exited (${g.child.exitCode ?? g.child.signalCode}) before ${what}:\n${g.text()}`);
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


/**
 * Opens a request whose body is never sent whole and waits until the gateway process holds it;
 * sent again if it was shed (a process starting up on a busy machine may report no room yet).
 * Returns a function that gives the current socket.
 */
async function stallAdmitted(g: ReturnType<typeof start>): Promise<() => net.Socket> {
  let stalled: net.Socket | null = null;
  const stall = () => {
    const s = net.connect(PORT, '127.0.0.1');
    s.on('error', () => {});
    s.once('data', () => s.destroy());
    s.write('POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"events":[');
    stalled = s;
  };
  // Once the gateway process holds it (not after a fixed pause: a loaded machine may take longer).
  await until(g, 'the stalled request was admitted', async () => {
    if (!stalled || stalled.destroyed) stall();
    return /\ngateway_requests_in_flight 1\b/.test(await exchange('GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n')) ? true : undefined;
  });
  return () => stalled!;
}

test('GATEWAY_WORKERS=2: two processes share the port; one killed is replaced; SIGTERM stops them all', async () => {
  const g = start({ GATEWAY_WORKERS: '2', GATEWAY_ACCEPTOR: 'false', GATEWAY_LISTEN_BACKLOG: '1234', GATEWAY_WORKER_NICE: '5' });
  primary = g.child;
  const two = await until(g, 'two workers listened', () => (listening(g.text()).length >= 2 ? listening(g.text()) : undefined));
  for (const w of two) workerPids.add(w.pid);
  expect(new Set(two.map((w) => w.slot))).toEqual(new Set([0, 1]));
  expect(two.every((w) => w.port === PORT)).toBe(true);
  expect(two[0].pid).not.toBe(two[1].pid);
  // Without the acceptor nothing to give way to: the primary's niceness, whatever GATEWAY_WORKER_NICE says.
  for (const w of two) expect(os.getPriority(w.pid)).toBe(os.getPriority(g.child.pid!));
  expect((await fetch(`http://127.0.0.1:${PORT}/healthz`)).status).toBe(200);
  // One socket, shared by the workers (each accepts from it), with the configured accept queue.
  expect(listenBacklogs(PORT)).toEqual([1234]);
  // Both workers hold it: each accepts its own connections (no round robin through the primary).
  const holders = listenerPids(PORT);
  for (const w of two) expect(holders.has(w.pid)).toBe(true);

  process.kill(two[0].pid, 'SIGKILL');
  const third = await until(g, 'a third worker listened', () => listening(g.text()).find((w) => !two.some((x) => x.pid === w.pid)));
  workerPids.add(third.pid);
  expect(third.slot).toBe(two[0].slot);
  expect(g.text()).toMatch(new RegExp(`gateway worker ${two[0].slot} \\(pid ${two[0].pid}\\) exited \\(SIGKILL\\): starting another`));
  expect((await fetch(`http://127.0.0.1:${PORT}/healthz`)).status).toBe(200);

  g.child.kill('SIGTERM');
  expect(await g.exited).toBe(0);
  for (const pid of [two[1].pid, third.pid]) expect(() => process.kill(pid, 0)).toThrow();
}, 300_000);

test('one process listens with GATEWAY_LISTEN_BACKLOG as its accept queue', async () => {
  const g = start({ GATEWAY_ACCEPTOR: 'false', GATEWAY_LISTEN_BACKLOG: '777' });
  primary = g.child;
  expect(await until(g, 'it listened', () => (listenBacklogs(PORT).length ? listenBacklogs(PORT) : undefined))).toEqual([777]);
  g.child.kill('SIGTERM');
  expect(await g.exited).toBe(0);
}, 300_000);

test('GATEWAY_WORKERS=0 is a configuration error (exit 2, nothing listens)', async () => {
  const g = start({ GATEWAY_WORKERS: '0' });
  primary = g.child;
  expect(await g.exited).toBe(2);
  expect(g.text()).toMatch(/GATEWAY_WORKERS must be at least 1/);
}, 300_000);

const readyBehind = (text: string) => [...text.matchAll(/gateway worker (\d+) \(pid (\d+)\) ready behind the acceptor/g)].map((m) => ({ slot: Number(m[1]), pid: Number(m[2]) }));

/** A raw HTTP exchange on a connection of its own: the whole answer text ('' if the connection closed without one). */
function exchange(head: string, body = '', waitMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(PORT, '127.0.0.1');
    let text = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      text += d;
      const end = text.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? NaN);
      if (end >= 0 && text.length >= end + 4 + length) {
        s.destroy();
        resolve(text);
      }
    });
    s.on('close', () => resolve(text));
    s.on('error', reject);
    s.setTimeout(waitMs, () => s.destroy());
    s.write(head + body);
  });
}

test('by default (GATEWAY_ACCEPTOR) the primary alone listens and hands connections to the gateway process; once it sheds, the primary sheds new ingest connections itself', async () => {
  // One request's body held in memory (never sent whole) fills GATEWAY_MAX_QUEUED_BYTES, so the next is shed by the gateway process.
  // One gateway process (the default is 2): the held request and the next one must meet in the same process.
  const g = start({ GATEWAY_WORKERS: '1', GATEWAY_MAX_QUEUED_BYTES: '1500', GATEWAY_MAX_LOOP_LAG_MS: '0', GATEWAY_LISTEN_BACKLOG: '1234', GATEWAY_WORKER_NICE: '5' });
  primary = g.child;
  const [w] = await until(g, 'the gateway process was ready behind the acceptor', () => (readyBehind(g.text()).length ? readyBehind(g.text()) : undefined));
  workerPids.add(w.pid);
  // GATEWAY_MAX_HEAP_MB (768 by default) caps the gateway process's heap; GATEWAY_MIN_HEAP_MB (256) is its old-space floor.
  const argv = readFileSync(`/proc/${w.pid}/cmdline`, 'utf8').split('\0');
  expect(argv).toContain('--max-old-space-size=768');
  expect(argv).toContain('--initial-old-space-size=256');
  // GATEWAY_MIN_YOUNG_MB (64 by default): the young generation starts at its full size.
  expect(argv).toContain('--min-semi-space-size=64');
  // GATEWAY_V8_PRETENURING (false by default): no pretenuring decisions left over from a spike.
  expect(argv).toContain('--no-allocation-site-pretenuring');
  // GATEWAY_V8_MEMORY_REDUCER (false by default): an idle spell does not shrink the heap the next load needs.
  expect(argv).toContain('--no-memory-reducer');
  // GATEWAY_WORKER_NICE (5 here; 0 by default): the gateway process gives way to the acceptor for a core.
  expect(os.getPriority(w.pid)).toBe(Math.min(19, os.getPriority(g.child.pid!) + 5));
  // Only the acceptor holds the public socket (with the configured accept queue).
  expect([...listenerPids(PORT)]).toEqual([g.child.pid]);
  expect(listenBacklogs(PORT)).toEqual([1234]);
  expect(await exchange('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);

  // Admitted, then stalled: its 1,000 bytes are held.
  const stalled = await stallAdmitted(g);
  const post = 'POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\norigin: https://shop.example\r\ncontent-length: 1000\r\n\r\n';
  const body = `{"events":[${' '.repeat(986)}]}`;
  // Shed by the gateway process (bytes), which closes the connection and tells the acceptor.
  const byGateway = await exchange(post, body);
  expect(byGateway).toMatch(/^HTTP\/1\.1 503 /);
  expect(byGateway).toMatch(/bytes of requests already held/);
  expect(byGateway).toMatch(/\r\nconnection: close\r\n/i);
  // Then by the acceptor, with the catalogue's answer and CORS for the page.
  // (The gateway process's word travels between processes: a request right after may still reach it, and be shed there.)
  let shed = '';
  for (let i = 0; i < 20 && !/every gateway process/.test(shed); i++) {
    shed = await exchange(post, body);
    expect(shed).toMatch(/^HTTP\/1\.1 503 /);
  }
  expect(shed).toMatch(/"code":"GW_ERR_OVERLOADED"/);
  expect(shed).toMatch(/every gateway process is overloaded/);
  expect(shed).toMatch(/\r\naccess-control-allow-origin: https:\/\/shop\.example\r\n/);
  expect(Number(/\r\nretry-after: (\d+)\r\n/.exec(shed)?.[1])).toBeGreaterThanOrEqual(1);
  // Other requests still reach the gateway process, with the bytes the acceptor read from them.
  expect(await exchange('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 [\s\S]*"status":"ok"/);
  const notFound = await exchange('POST /v1/nope HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n', '{"events":[]}');
  expect(notFound).toMatch(/^HTTP\/1\.1 404 [\s\S]*GW_ERR_NOT_FOUND/);
  stalled().destroy();

  g.child.kill('SIGTERM');
  expect(await g.exited).toBe(0);
  expect(() => process.kill(w.pid, 0)).toThrow();
}, 300_000);

test("one Ctrl-C reaches a worker twice (the terminal's, to the whole process group, and the primary's): it drains once, to the end, and a second Ctrl-C to the primary stops it at once", async () => {
  // One gateway process: the request in flight is the signalled worker's (with two, the other one
  // may hold it, and the signalled one then has nothing to drain).
  const g = start({ GATEWAY_WORKERS: '1', GATEWAY_MAX_LOOP_LAG_MS: '0' });
  primary = g.child;
  const [w] = await until(g, 'the gateway process was ready behind the acceptor', () => (readyBehind(g.text()).length ? readyBehind(g.text()) : undefined));
  workerPids.add(w.pid);
  // A request in flight (its body never sent whole) keeps the worker's graceful shutdown going.
  const stalled = await stallAdmitted(g);

  // The terminal's SIGINT reaches the worker, then the primary, which passes it on.
  process.kill(w.pid, 'SIGINT');
  await until(g, 'the worker began its shutdown', () => (/"sig":"SIGINT","msg":"closing/.test(g.text()) ? true : undefined));
  g.child.kill('SIGINT');
  await until(g, 'the worker took the second as the same request', () => (/"msg":"already closing"/.test(g.text()) ? true : undefined));
  expect(g.text()).not.toMatch(/second signal: exiting now/);
  // Still draining: the worker lives while its request is in flight.
  expect(() => process.kill(w.pid, 0)).not.toThrow();

  // Ctrl-C again: the primary stops its worker at once.
  g.child.kill('SIGINT');
  expect(await g.exited).toBe(0);
  expect(g.text()).toMatch(/second SIGINT: stopping the worker processes now/);
  expect(() => process.kill(w.pid, 0)).toThrow();
  stalled().destroy();
}, 300_000);

test('the default layout: two gateway processes behind the acceptor; one Ctrl-C to the process group stops them all, none started again', async () => {
  const g = start({}, true);
  primary = g.child;
  const ready = await until(g, 'both gateway processes were ready behind the acceptor', () => (readyBehind(g.text()).length === 2 ? readyBehind(g.text()) : undefined));
  for (const w of ready) workerPids.add(w.pid);
  expect(new Set(ready.map((w) => w.pid)).size).toBe(2);
  expect([...listenerPids(PORT)]).toEqual([g.child.pid]);
  expect(await exchange('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
  process.kill(-g.child.pid!, 'SIGINT');
  expect(await g.exited).toBe(0);
  for (const w of ready) expect(() => process.kill(w.pid, 0)).toThrow();
  expect(g.text()).not.toMatch(/starting another/);
}, 300_000);

test('the default layout answers /metrics with the sum of both processes, whichever process a scrape reaches', async () => {
  const g = start({});
  primary = g.child;
  const ready = await until(g, 'both gateway processes were ready behind the acceptor', () => (readyBehind(g.text()).length === 2 ? readyBehind(g.text()) : undefined));
  for (const w of ready) workerPids.add(w.pid);
  // Each on a connection of its own: the acceptor hands them to the two processes in turn.
  const n = 9;
  for (let i = 0; i < n; i++) expect(await exchange('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
  const served = (page: string) => Number(/\ngateway_requests_total\{route="\/healthz",method="GET",status="200"\} (\d+)/.exec(page)?.[1] ?? NaN);
  // Scrapes on connections of their own reach both processes too: every one counts all n.
  for (let i = 0; i < 4; i++) {
    const page = await exchange('GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(page).toMatch(/^HTTP\/1\.1 200 /);
    expect(served(page)).toBe(n);
    // No Kafka here: the gateway says so once, not once per process.
    expect(page).toMatch(/\ngateway_kafka_available 0\n/);
    expect(page.match(/\ngateway_kafka_available /g)).toHaveLength(1);
  }
}, 300_000);

test.each([
  // GATEWAY_MAX_HEAP_MB, GATEWAY_MIN_HEAP_MB, GATEWAY_MIN_YOUNG_MB, GATEWAY_V8_PRETENURING -> flags
  [768, 256, 0, true, ['--max-old-space-size=768', '--initial-old-space-size=256']],
  // The floor of full collections is at most half the limit.
  [300, 256, 0, true, ['--max-old-space-size=300', '--initial-old-space-size=150']],
  [0, 256, 0, true, ['--initial-old-space-size=256']],
  [768, 0, 0, true, ['--max-old-space-size=768']],
  [0, 0, 0, true, []],
  [768, 256, 0, false, ['--max-old-space-size=768', '--no-allocation-site-pretenuring', '--initial-old-space-size=256']],
  [0, 0, 0, false, ['--no-allocation-site-pretenuring']],
  // The young generation's floor, with or without the rest.
  [768, 256, 64, false, ['--max-old-space-size=768', '--no-allocation-site-pretenuring', '--initial-old-space-size=256', '--min-semi-space-size=64']],
  [0, 0, 16, true, ['--min-semi-space-size=16']],
] as const)('the heap flags of a worker (max %i MB, old floor %i MB, young floor %i MB, pretenuring %s)', (maxHeapMb, minHeapMb, minYoungMb, pretenuring, flags) => {
  expect(workerHeapFlags({ maxHeapMb, minHeapMb, minYoungMb, pretenuring, memoryReducer: true })).toEqual(flags);
  // GATEWAY_V8_MEMORY_REDUCER false: the same flags and --no-memory-reducer last.
  expect(workerHeapFlags({ maxHeapMb, minHeapMb, minYoungMb, pretenuring, memoryReducer: false })).toEqual([...flags, '--no-memory-reducer']);
});

test('a worker is started with the settings the configuration gives, its defaults included', () => {
  expect(workerSettings(parseConfig({ GATEWAY_MAX_HEAP_MB: '900', GATEWAY_MIN_HEAP_MB: '128', GATEWAY_MIN_YOUNG_MB: '32', GATEWAY_V8_PRETENURING: 'true', GATEWAY_V8_MEMORY_REDUCER: 'true', GATEWAY_WORKER_NICE: '3' }))).toEqual({
    maxHeapMb: 900,
    minHeapMb: 128,
    minYoungMb: 32,
    pretenuring: true,
    memoryReducer: true,
    nice: 3,
  });
  // The defaults: what bench:gateway-work starts itself with too.
  expect(workerHeapFlags(workerSettings(parseConfig({})))).toContain('--no-allocation-site-pretenuring');
  expect(workerHeapFlags(workerSettings(parseConfig({})))).toContain('--no-memory-reducer');
});
