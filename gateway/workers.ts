import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import type { Config } from '../contracts/config.js';
import { Acceptor, isAcceptorMessage, type AcceptorOptions } from './acceptor.js';
import { isMetricsMessage, MetricsAggregator } from './cluster-metrics.js';

/** What the primary process logs; one line each. */
export interface WorkersLog {
  info(msg: string): void;
  error(msg: string): void;
}

/** The exit code a worker uses for a configuration error: the primary stops instead of restarting it. */
export const CONFIG_ERROR_EXIT = 2;

/** How the primary starts each gateway process: its V8 heap (see workerHeapFlags) and its niceness. */
export interface WorkerSettings {
  /** GATEWAY_MAX_HEAP_MB: the old-space limit (0: V8's own). */
  maxHeapMb: number;
  /** GATEWAY_MIN_HEAP_MB: the old-space floor of full collections (0: V8's own). */
  minHeapMb: number;
  /** GATEWAY_MIN_YOUNG_MB: the young generation's semi-space floor (0: V8's own). */
  minYoungMb: number;
  /** GATEWAY_V8_PRETENURING. */
  pretenuring: boolean;
  /** GATEWAY_V8_MEMORY_REDUCER. */
  memoryReducer: boolean;
  /** GATEWAY_WORKER_NICE, applied only behind the acceptor. */
  nice: number;
}

/** V8's own heap, no niceness: what a primary started without settings (bench/shed-server.ts) gives its processes. */
export const DEFAULT_WORKER_SETTINGS: WorkerSettings = { maxHeapMb: 0, minHeapMb: 0, minYoungMb: 0, pretenuring: true, memoryReducer: true, nice: 0 };

/** A gateway process's settings as the configuration gives them (GATEWAY_MAX_HEAP_MB, GATEWAY_MIN_HEAP_MB, GATEWAY_MIN_YOUNG_MB, GATEWAY_V8_PRETENURING, GATEWAY_V8_MEMORY_REDUCER, GATEWAY_WORKER_NICE). */
export function workerSettings(cfg: Pick<Config, 'gatewayMaxHeapMb' | 'gatewayMinHeapMb' | 'gatewayMinYoungMb' | 'gatewayV8Pretenuring' | 'gatewayV8MemoryReducer' | 'gatewayWorkerNice'>): WorkerSettings {
  return { maxHeapMb: cfg.gatewayMaxHeapMb, minHeapMb: cfg.gatewayMinHeapMb, minYoungMb: cfg.gatewayMinYoungMb, pretenuring: cfg.gatewayV8Pretenuring, memoryReducer: cfg.gatewayV8MemoryReducer, nice: cfg.gatewayWorkerNice };
}

/**
 * The V8 flags of a worker's heap: its old-space limit (GATEWAY_MAX_HEAP_MB), and the old-space size
 * below which V8 starts no full collection on its own (GATEWAY_MIN_HEAP_MB, at most half the limit).
 * Without that floor V8 sets the old-space limit from what is live (~35 MB in a gateway), and once
 * the room left under it is smaller than the young generation (64 MB semi-spaces with Node 24) it
 * starts incremental marking at once: under load a mark-compact every 1-3 s, each pausing the
 * process 10-70 ms (bench/README.md, the half-load tail); with it, one every 10-30 s.
 * Without pretenuring (GATEWAY_V8_PRETENURING false, the default): V8 pretenures the allocation
 * sites whose objects survived under maximum load and never reverses it at half load, so a
 * gateway that once ran flat out kept collecting its young generation 5-6x as slowly.
 * The young generation's floor (GATEWAY_MIN_YOUNG_MB): V8 starts a process with 1 MB semi-spaces and
 * grows them only as objects survive collections, which a gateway's mostly do not, and a gateway
 * coming out of a busy spell and a pause also collected 2-2.7x as often for 10-20 s (how V8 got
 * there is not established): with the floor, every repetition collects as often as a settled one
 * (bench/README.md, sixteenth stop).
 * Without the memory reducer (GATEWAY_V8_MEMORY_REDUCER false, the default): V8 shrinks an idle
 * process's heap, and the next load paid 6-11 % more CPU per request while it grew back (bench/README.md,
 * twenty-fourth stop).
 */
export function workerHeapFlags(h: Pick<WorkerSettings, 'maxHeapMb' | 'minHeapMb' | 'minYoungMb' | 'pretenuring' | 'memoryReducer'>): string[] {
  const flags = h.maxHeapMb > 0 ? [`--max-old-space-size=${h.maxHeapMb}`] : [];
  if (!h.pretenuring) flags.push('--no-allocation-site-pretenuring');
  const floor = h.maxHeapMb > 0 ? Math.min(h.minHeapMb, Math.floor(h.maxHeapMb / 2)) : h.minHeapMb;
  if (floor > 0) flags.push(`--initial-old-space-size=${floor}`);
  if (h.minYoungMb > 0) flags.push(`--min-semi-space-size=${h.minYoungMb}`);
  if (!h.memoryReducer) flags.push('--no-memory-reducer');
  return flags;
}

/**
 * The primary (behind the acceptor, the default, or GATEWAY_WORKERS > 1): forks `n` gateway processes,
 * each started with `settings` (node:cluster; without the acceptor they share the
 * listening socket and each accepts from it: see below), restarts one
 * that dies (at most one restart a second per slot, so a crash loop does not spin), and on
 * SIGINT / SIGTERM passes the signal on and exits once every worker has finished its own graceful
 * shutdown (a worker takes a repeated signal as the same request: a terminal's Ctrl-C reaches it
 * directly too). A second signal to the primary (Ctrl-C again) stops the workers at once. A worker that exits with CONFIG_ERROR_EXIT stops them all (restarting cannot help).
 * Resolves when the last worker has exited, with the exit code for the primary.
 */
export function runWorkers(n: number, log: WorkersLog, shutdownTimeoutMs: number, acceptorOptions: AcceptorOptions | null = null, settings: WorkerSettings = DEFAULT_WORKER_SETTINGS): Promise<number> {
  // GATEWAY_ACCEPTOR: this process accepts every connection and hands it over, or sheds it while
  // every worker is overloaded (acceptor.ts); the workers then listen on no shared socket.
  const acceptor = acceptorOptions ? new Acceptor(acceptorOptions) : null;
  // One /metrics page for all the processes, whichever a scrape reaches (cluster-metrics.ts).
  const metrics = new MetricsAggregator();
  // Each worker accepts new connections from the shared listening socket itself, unless
  // NODE_CLUSTER_SCHED_POLICY=rr asks for Node's round robin. Under a connection spike the round
  // robin queues connections in the primary, which hands one at a time to each worker and waits for
  // that worker's loop to take it: seconds the workers' admission control never sees (bench:gateway
  // measured 9.7 s on the wire against 1 s in the workers' own queue). Accepting from the shared
  // socket leaves them in the kernel's accept queue (GATEWAY_LISTEN_BACKLOG), taken by whichever
  // worker's loop comes back first: the least busy one.
  if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
  // GATEWAY_MAX_HEAP_MB / GATEWAY_MIN_HEAP_MB / GATEWAY_MIN_YOUNG_MB / GATEWAY_V8_PRETENURING / GATEWAY_V8_MEMORY_REDUCER: each worker's V8 heap settings, on top of the flags
  // this process runs with (after the policy: setupPrimary freezes it).
  const heap = workerHeapFlags(settings);
  if (heap.length) cluster.setupPrimary({ execArgv: [...process.execArgv, ...heap] });
  let stopping = false;
  let code = 0;
  const slots = new Map<Worker, number>();
  const lastStart = new Array<number>(n).fill(0);

  const fork = (slot: number) => {
    lastStart[slot] = Date.now();
    const w = cluster.fork({ GATEWAY_WORKER_SLOT: String(slot) });
    slots.set(w, slot);
    // Only behind the acceptor: it is what the niceness gives way to.
    if (acceptor && settings.nice > 0 && w.process.pid) setNice(w.process.pid, settings.nice, log);
    acceptor?.add({
      id: w.id,
      send: (m, socket, delivered) =>
        w.send(m, socket, (err: Error | null) => {
          // The worker is gone (it exits; a new one is started): the client sees its connection closed and retries.
          if (err) socket?.destroy();
          delivered?.();
        }),
    });
  };

  return new Promise((resolve) => {
    const stopAll = (signal: NodeJS.Signals, fromSignal = false) => {
      if (stopping) {
        if (!fromSignal || slots.size === 0) return;
        log.error(`gateway: second ${signal}: stopping the worker processes now`);
        for (const w of slots.keys()) w.process.kill('SIGKILL');
        return;
      }
      stopping = true;
      acceptor?.close();
      for (const w of slots.keys()) w.process.kill(signal);
      // A worker's own shutdown is bounded; this bounds the primary's wait on a stuck one.
      setTimeout(() => {
        for (const w of slots.keys()) w.process.kill('SIGKILL');
      }, shutdownTimeoutMs + 20_000).unref();
    };
    cluster.on('exit', (w, exitCode, signal) => {
      const slot = slots.get(w);
      slots.delete(w);
      acceptor?.remove(w.id);
      metrics.remove(w.id);
      if (slot === undefined) return;
      if (exitCode === CONFIG_ERROR_EXIT && !stopping) {
        log.error(`gateway worker ${slot} refused its configuration: stopping`);
        code = CONFIG_ERROR_EXIT;
        stopAll('SIGTERM');
      }
      if (stopping) {
        if (slots.size === 0) resolve(code);
        return;
      }
      log.error(`gateway worker ${slot} (pid ${w.process.pid}) exited (${signal ?? `code ${exitCode}`}): starting another`);
      const wait = Math.max(0, lastStart[slot] + 1000 - Date.now());
      setTimeout(() => (stopping ? undefined : fork(slot)), wait).unref();
    });
    cluster.on('listening', (w, address) => log.info(`gateway worker ${slots.get(w)} (pid ${w.process.pid}) listening on port ${address.port}`));
    cluster.on('message', (w, m: unknown) => {
      if (isMetricsMessage(m)) return metrics.onMessage({ id: w.id, send: (x) => w.isConnected() && w.send(x) }, m);
      if (!acceptor || !isAcceptorMessage(m)) return;
      acceptor.onMessage(w.id, m);
      if (m.cmd === 'gw:ready') log.info(`gateway worker ${slots.get(w)} (pid ${w.process.pid}) ready behind the acceptor on port ${acceptorOptions!.port}`);
    });
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => stopAll(sig, true));
    const start = () => {
      for (let i = 0; i < n; i++) fork(i);
      log.info(`gateway: ${n} worker processes${acceptor ? `, connections accepted by this process (pid ${process.pid}) on port ${acceptorOptions!.port}` : ''}`);
    };
    if (!acceptor) return start();
    acceptor.listen().then(start, (err: Error) => {
      log.error(`gateway acceptor cannot listen: ${err.message}`);
      resolve(1);
    });
  });
}

export const isWorker = () => cluster.isWorker;

/**
 * GATEWAY_WORKER_NICE: a gateway process at `nice` above this one (the primary, where the acceptor
 * runs). Set right after the fork, before its code is loaded: its main thread and the threads it
 * starts from then on run at that niceness (Linux keeps it per thread).
 */
function setNice(pid: number, nice: number, log: WorkersLog): void {
  try {
    os.setPriority(pid, Math.min(19, os.getPriority() + nice));
  } catch (err) {
    log.error(`gateway worker pid ${pid}: cannot set its niceness (${(err as Error).message}): it runs at the primary's`);
  }
}
