/**
 * One thread of the open-loop load generator (open-loop.ts): sends its share of the requests at
 * evenly spaced due times over raw keep-alive sockets, whatever the answers do, like many browsers
 * each posting a batch. A request takes an idle connection, or opens a new one (up to
 * `maxConnections`; beyond, it waits for one: the wait counts in its latency). Every request is
 * encoded once, before the phase, as one byte template per pool entry (head and body, ids as fixed
 * width placeholders), and sent as a copy with its request number written into the ids; answers
 * are parsed on the bytes just enough (status line, Content-Length, Connection). A remote client
 * costs the gateway's machine nothing, this one shares its cores: so it is kept to a few
 * microseconds of CPU per request (reported, with its lateness: send time minus due time).
 */
import { readlinkSync } from 'node:fs';
import net from 'node:net';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { bodyPool } from './bodies.js';
import { parseAnswer, requestBytes, requestTemplates } from './raw-http.js';

export interface WorkerParams {
  port: number;
  path: string;
  /** Requests per second this thread sends. */
  rate: number;
  /** Absolute start (performance.timeOrigin + performance.now(), ms) shared by all threads. */
  startAt: number;
  durationS: number;
  /** This thread's requests are due at startAt + (k + offset) / rate, k = 0, 1 ... */
  offset: number;
  maxConnections: number;
  /** Connections opened before the start (an audience that is already connected). */
  warmConnections: number;
  /**
   * Share (0..1) of requests sent on a connection of their own, opened for them and closed after
   * the answer (`connection: close`): browsers arriving during the spike, next to the kept-alive
   * ones. Their TCP handshake is timed apart (connectMs): a full accept backlog shows there.
   */
  newConnectionShare: number;
  timeoutMs: number;
  /** How long to wait for answers after the last request is due. */
  drainMs: number;
  pool: { size: number; seed: number; tag: string; eventsPerBody: number };
  /** Niceness of this thread (0: as the bench; 19: runs only on CPU nobody else wants), set on Linux. */
  nice: number;
}

export interface WorkerResult {
  sent: number;
  /** Latency (ms from due time to the whole answer) of every answered request, by status. */
  latencies: Record<string, number[]>;
  /** The gateway's part of it: ms from the request's first byte written to the whole answer, by status. */
  serverLatencies: Record<string, number[]>;
  /** The generator's part: ms from due time to the first byte written (its timer, waiting for a connection, the TCP handshake), by status. */
  clientLatencies: Record<string, number[]>;
  /** Latency (due time to answer) of the 200s sent on a connection opened for them (`newConnectionShare`): the handshake and accept queue included. */
  acceptedFresh: number[];
  /** The same for the 200s sent on a kept-alive connection (taken idle, or opened because none was). */
  acceptedKept: number[];
  /** TCP handshake (connect() to connected, ms) of every connection opened during the phase: the kernel's accept queue. */
  connectMs: number[];
  /** Timeouts by where the request was: waiting for a generator connection, in the TCP handshake, or sent and unanswered. */
  timeoutsBy: { queued: number; connecting: number; sent: number };
  /** Due time to the timer tick that handled it (ms): the generator's own lateness (CPU), whatever the connections do. */
  tickLag: number[];
  /** Completion time of every 200 (ms after startAt). */
  acceptedAt: number[];
  /** Due time (ms after startAt) of every 503, in the order of `latencies['503']`: shed latency second by second. */
  shedDueAt: number[];
  /**
   * Whether each 503 (same order) came from a gateway process (1) rather than the acceptor (0, its
   * request ids start with `acc-`): a gateway process sheds a request on a connection it holds, after
   * it waited for that process's loop, so these are the slow sheds.
   */
  shedByProcess: number[];
  timeouts: number;
  /** Connections refused, reset or closed before the answer. */
  errors: number;
  /** Send time minus due time, ms, of every request sent. */
  sendLag: number[];
  connectionsOpened: number;
  cpuMs: number;
}

const p = workerData as WorkerParams;
const abs = () => performance.timeOrigin + performance.now();
const pool = bodyPool({ size: p.pool.size, seed: p.pool.seed, tag: p.pool.tag, eventsPerBody: p.pool.eventsPerBody });

const res: WorkerResult = {
  sent: 0,
  latencies: {},
  serverLatencies: {},
  clientLatencies: {},
  acceptedFresh: [],
  acceptedKept: [],
  connectMs: [],
  timeoutsBy: { queued: 0, connecting: 0, sent: 0 },
  tickLag: [],
  acceptedAt: [],
  shedDueAt: [],
  shedByProcess: [],
  timeouts: 0,
  errors: 0,
  sendLag: [],
  connectionsOpened: 0,
  cpuMs: 0,
};
/** Requests sent so far, to pick every n-th one for a new connection. */
let fresh = 0;
const freshEvery = p.newConnectionShare > 0 ? 1 / p.newConnectionShare : Infinity;

interface Conn {
  sock: net.Socket;
  ready: boolean;
  closed: boolean;
  /** The request on it: due time, send time; NaN when idle. */
  due: number;
  sentAt: number;
  buf: Buffer | null;
  close: boolean;
  /** A connection of one request (newConnectionShare): asks `connection: close`, never reused. */
  once: boolean;
  openedAt: number;
}

const idle: Conn[] = [];
const busy = new Set<Conn>();
/** Requests due but without a connection yet (due times). */
const waiting: number[] = [];
let open = 0;
let k = 0;

const templates = requestTemplates(pool, { path: p.path, port: p.port, tag: p.pool.tag });

/** Request n of this thread (its ids offset so that no two threads or phases share one). */
const request = (n: number, close: boolean): Buffer => requestBytes(templates, p.offset + n, close);

function record(c: Conn, status: number) {
  const now = abs();
  const key = String(status);
  (res.latencies[key] ??= []).push(now - c.due);
  (res.serverLatencies[key] ??= []).push(now - c.sentAt);
  (res.clientLatencies[key] ??= []).push(c.sentAt - c.due);
  if (status === 200) {
    res.acceptedAt.push(now - p.startAt);
    (c.once ? res.acceptedFresh : res.acceptedKept).push(now - c.due);
  } else if (status === 503) {
    res.shedDueAt.push(c.due - p.startAt);
    res.shedByProcess.push(c.buf && c.buf.indexOf(ACCEPTOR_ID) >= 0 ? 0 : 1);
  }
}

/** The request id header of an answer written by the acceptor process (gateway/acceptor.ts). */
const ACCEPTOR_ID = Buffer.from('\r\nx-request-id: acc-');

let measuring = false;

function connect(once = false): Conn {
  open++;
  res.connectionsOpened++;
  const c: Conn = { sock: net.connect(p.port, '127.0.0.1'), ready: false, closed: false, due: NaN, sentAt: NaN, buf: null, close: false, once, openedAt: abs() };
  c.sock.setNoDelay(true);
  c.sock.on('connect', () => {
    c.ready = true;
    if (measuring) res.connectMs.push(abs() - c.openedAt);
    if (!Number.isNaN(c.due)) write(c);
    else release(c);
  });
  c.sock.on('data', (d: Buffer) => onData(c, d));
  // Closed by either side, refused or reset: a request still on it failed.
  const gone = () => {
    if (c.closed) return;
    c.closed = true;
    open--;
    if (busy.delete(c)) res.errors++;
    const i = idle.indexOf(c);
    if (i >= 0) idle.splice(i, 1);
    c.sock.destroy();
    c.due = NaN;
    pump();
  };
  c.sock.on('error', gone);
  c.sock.on('close', gone);
  return c;
}

function write(c: Conn) {
  c.sentAt = abs();
  res.sendLag.push(c.sentAt - c.due);
  c.sock.write(request(k++, c.once));
}

function assign(c: Conn, due: number) {
  c.due = due;
  c.buf = null;
  busy.add(c);
  res.sent++;
  if (c.ready) write(c);
}

function send(due: number) {
  res.tickLag.push(abs() - due);
  if (++fresh >= freshEvery) {
    fresh -= freshEvery;
    if (open < p.maxConnections) return assign(connect(true), due);
  }
  const c = idle.pop();
  if (c) return assign(c, due);
  if (open < p.maxConnections) return assign(connect(), due);
  waiting.push(due);
}

/** A connection free again: the oldest waiting request takes it. */
function release(c: Conn) {
  c.due = NaN;
  busy.delete(c);
  if (c.close || c.closed || c.once) {
    c.sock.destroy();
    return;
  }
  const due = waiting.shift();
  if (due !== undefined) assign(c, due);
  else idle.push(c);
}

function pump() {
  while (waiting.length && open < p.maxConnections) assign(connect(), waiting.shift()!);
}

function onData(c: Conn, d: Buffer) {
  if (Number.isNaN(c.due)) return; // an answer nobody waits for (after a timeout): the socket is gone anyway
  c.buf = c.buf ? Buffer.concat([c.buf, d]) : d;
  const answer = parseAnswer(c.buf);
  if (!answer) return;
  const { status } = answer;
  c.close = answer.close;
  record(c, status);
  release(c);
}

/** Requests past the client timeout are given up: the socket is closed, like a browser's fetch aborted. */
function sweep() {
  const now = abs();
  for (const c of busy) {
    if (now - c.due > p.timeoutMs) {
      busy.delete(c);
      res.timeouts++;
      if (!c.ready) res.timeoutsBy.connecting++;
      else res.timeoutsBy.sent++;
      c.due = NaN;
      c.sock.destroy();
    }
  }
  while (waiting.length && now - waiting[0] > p.timeoutMs) {
    waiting.shift();
    res.timeouts++;
    res.timeoutsBy.queued++;
    res.sent++;
  }
}

/**
 * Lowers this thread's priority (Linux: a thread's niceness is its own, set through its thread id):
 * the gateway then gets the CPU first, and the generator's lateness, which the results show, is
 * what remains of a client sharing the gateway's cores.
 */
function renice(nice: number): void {
  if (nice <= 0) return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (tid > 0) setPriority(tid, nice);
  } catch {
    // not Linux: the priority stays
  }
}

async function main() {
  renice(p.nice);
  for (let i = 0; i < p.warmConnections; i++) connect();
  const sweeper = setInterval(sweep, 50);
  let cpu0 = process.threadCpuUsage();
  const interval = 1000 / p.rate;
  const end = p.startAt + p.durationS * 1000;
  let n = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = abs();
      // Every request due by now leaves now, with its own due time (a late timer does not shift the schedule).
      for (let due = p.startAt + n * interval; due <= now && due < end; due = p.startAt + ++n * interval) send(due);
      if (p.startAt + n * interval >= end) return resolve();
      setTimeout(tick, Math.max(0, p.startAt + n * interval - abs()));
    };
    setTimeout(() => {
      cpu0 = process.threadCpuUsage();
      measuring = true;
      tick();
    }, Math.max(0, p.startAt - abs()));
  });
  // The cost of sending, while requests were being sent (not of building the pool or of waiting after).
  const cpu = process.threadCpuUsage(cpu0);
  res.cpuMs = (cpu.user + cpu.system) / 1000;
  const drainUntil = abs() + p.drainMs;
  while ((busy.size || waiting.length) && abs() < drainUntil) await new Promise((r) => setTimeout(r, 20));
  clearInterval(sweeper);
  sweep();
  for (const c of [...idle, ...busy]) c.sock.destroy();
  parentPort!.postMessage(res);
}

void main();
