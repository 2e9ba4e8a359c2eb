import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { CRLFCRLF, isIngestRequest, originOf, shedAnswer, stopReading, type AcceptorShed } from './acceptor-http.js';
import { AcceptorWaits } from './acceptor-waits.js';
import { HANDOVER_MAX_WAIT_MS, HandoverPipe } from './handover-pipe.js';

/**
 * The acceptor (GATEWAY_ACCEPTOR): a process of its own that owns the listening socket, hands each
 * new connection to a gateway process, and answers new ingest connections 503 GW_ERR_OVERLOADED
 * itself while every gateway process says it is overloaded.
 *
 * Why a process of its own: under a spike most requests must be shed, and a shed made by the
 * gateway's own thread (Node's HTTP parser, the request and response objects, the answer) costs
 * about 20 µs of the very thread that serves the accepted requests (~350 µs each): at 5x the
 * maximum those sheds alone take most of the thread. The acceptor's sheds run on another core,
 * cost the gateway processes nothing, and never queue behind their work; the gateway processes
 * close the connection of every request they shed themselves (`connection: close`), so a client
 * comes back on a new connection, to the acceptor. A connection handed over costs one message
 * between processes, once per connection (browsers keep theirs alive).
 *
 * What decides: each gateway process tells the acceptor when it turns overloaded and when it
 * recovers, and how many connections it takes until its next report, its room (`AcceptorMessage`;
 * handover-room.ts); a new connection, or a kept one with its next request, goes to the next
 * process, round robin, that is ready, not overloaded and has room left, and takes one of it. So a
 * process that recovers gets connections at the pace its spare time allows, not every kept
 * connection's next request at once (which it would have to shed again, on its own thread); and
 * only as fast as its IPC channel delivers them (handover-pipe.ts: about one socket per turn of its
 * loop), so that no connection waits seconds, unseen, in this process's queue for the channel.
 * When there is none, the acceptor reads the requests itself: an ingest
 * request (POST /v1/events, GET /v1/p.gif) is answered 503 with a jittered Retry-After on a
 * connection kept alive (see `keep`), until a gateway process has room again; anything else
 * (health checks, metrics, CORS preflights, the SDK) still goes to a gateway process, with the
 * bytes already read.
 */

/** Messages between a gateway process and the acceptor (node:cluster IPC). */
export type AcceptorMessage =
  /** Worker -> acceptor, once its app is ready to take connections. */
  | { cmd: 'gw:ready' }
  /** Worker -> acceptor, when it turns overloaded (on) or recovers (off). */
  | { cmd: 'gw:overload'; on: boolean }
  /**
   * Worker -> acceptor, every ROOM_REPORT_MS while it has room (and once when it has none): how many
   * connections it takes until its next report (handover-room.ts). Replaces the last report; a
   * process that never reported takes any number.
   */
  | { cmd: 'gw:room'; n: number }
  /**
   * Acceptor -> worker, with a connection: `head` holds bytes already read from it (latin1), '' when
   * none; `at`: when the acceptor accepted it, or read the first of `head` (ms, performance.timeOrigin + now).
   */
  | { cmd: 'gw:conn'; head: string; at?: number }
  /**
   * Acceptor -> one worker, about once a second: the sheds since the last report (`busy` of them with
   * a process with room but a full channel), and the longest delay of the acceptor's own event loop over that second
   * (ms; for its metrics).
   */
  | { cmd: 'gw:shed'; n: number; busy?: number; loopDelayMs?: number };

export const isAcceptorMessage = (m: unknown): m is AcceptorMessage => typeof m === 'object' && m !== null && typeof (m as { cmd?: unknown }).cmd === 'string' && (m as { cmd: string }).cmd.startsWith('gw:');

/** A gateway process as the acceptor sees it. */
export interface Backend {
  readonly id: number;
  /**
   * Called with a new connection for this process (and the bytes already read from it, if any);
   * `delivered` once the process has it (Node's send callback: after the channel's previous socket
   * was acknowledged) or the send failed: until then the connection counts as waiting (handover-pipe.ts).
   */
  send(msg: AcceptorMessage, socket?: net.Socket, delivered?: () => void): void;
}

/** Milliseconds on a clock every process of the machine shares. */
const wallMs = () => performance.timeOrigin + performance.now();
/** A request head longer than this, on a connection the acceptor answers itself, is answered and the connection closed. */
const MAX_HEAD = 16_384;

export interface AcceptorOptions {
  host: string;
  port: number;
  backlog: number;
  /** Most connections the acceptor holds itself at once (those it is shedding); beyond, new ones are closed at once. */
  maxConnections: number;
  /** Retry-After of a shed request: uniform in 1..retryAfterMaxS seconds. */
  retryAfterMaxS: number;
  /** How long a shed connection may stay open after its last answer, for the client to close it (ms). */
  lingerMs?: number;
  /** A connection the acceptor keeps (answering its requests itself) is closed after this long without a request (ms; 72 s, as the gateway's). */
  keepAliveMs?: number;
  /**
   * How long a request the acceptor has read may wait for a process that is not overloaded but
   * cannot take it this moment (ms; HANDOVER_MAX_WAIT_MS when not given): its channel is busy (it
   * delivers one socket per turn of that process's loop, so a few connections opened at once, as a
   * client whose answers slowed for a moment opens more, wait a turn or two each), or its last
   * report gave no room (a quarter second's busy share: right after a busy spell). Shed at once or
   * after the hand-over's own 20 ms, they were 503s at half load with nothing overloaded; under
   * overload it is how long a shed request waits for its answer. server.ts passes
   * GATEWAY_ACCEPTOR_MAX_WAIT_MS (at most half of GATEWAY_MAX_QUEUE_DELAY_MS). While the recent
   * waits mostly ended in a 503 anyway, no request waits but a probe (acceptor-waits.ts).
   */
  keptMaxWaitMs?: number;
  /** Warnings: which state made the acceptor shed (at most one line a second). */
  log?: (msg: string) => void;
  /** The clock of the recent waits' history (acceptor-waits.ts; ms): tests hold it still, so a slow machine's pauses do not decay it. */
  waitsNow?: () => number;
}

interface BackendState {
  b: Backend;
  ready: boolean;
  overloaded: boolean;
  room: number;
  pipe: HandoverPipe;
}

export class Acceptor {
  private readonly backends = new Map<number, BackendState>();
  private order: number[] = [];
  private next = 0;
  private shedIds = 0;
  private unreported = 0;
  private unreportedBusy = 0;
  private shedLoggedAt = -Infinity;
  /** Requests kept here waiting for a process that may take them soon: looked at again on each delivery and report. */
  private readonly waiters = new Set<() => void>();
  /** How those waits ended lately: under sustained overload they end in a 503 anyway, which is then sent at once. */
  private readonly waits: AcceptorWaits;
  private shedUnlogged = 0;
  private reporter: NodeJS.Timeout | null = null;
  /** This process's own event-loop delay: a connection waits that long in the kernel's accept queue, a shed that long for its answer. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  readonly server: net.Server;
  /** Ingest requests shed here, and connections handed over, since the start. */
  shedTotal = 0;
  handedTotal = 0;

  constructor(private readonly opts: AcceptorOptions) {
    this.waits = new AcceptorWaits(opts.waitsNow);
    this.server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.onConnection(socket));
    this.server.maxConnections = opts.maxConnections;
  }

  /** Called once: listens on the gateway's address. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.opts.host, port: this.opts.port, backlog: this.opts.backlog }, () => {
        this.server.off('error', reject);
        this.loopDelay.enable();
        this.reporter = setInterval(() => this.report(), 1000).unref();
        resolve();
      });
    });
  }

  /** Called when a gateway process is started (not yet ready). */
  add(b: Backend): void {
    this.backends.set(b.id, { b, ready: false, overloaded: false, room: Infinity, pipe: new HandoverPipe() });
    this.order = [...this.backends.keys()];
  }

  /** Called when a gateway process exits. */
  remove(id: number): void {
    this.backends.delete(id);
    this.order = [...this.backends.keys()];
  }

  /** Called with every message from a gateway process. */
  onMessage(id: number, m: AcceptorMessage): void {
    const s = this.backends.get(id);
    if (!s) return;
    if (m.cmd === 'gw:ready') s.ready = true;
    else if (m.cmd === 'gw:overload') s.overloaded = m.on;
    else if (m.cmd === 'gw:room') s.room = m.n;
    this.wake();
  }

  /** Called on shutdown: no new connections. */
  close(): void {
    this.server.close();
    if (this.reporter) clearInterval(this.reporter);
    this.reporter = null;
    this.loopDelay.disable();
  }

  /**
   * The next ready gateway process, round robin, that is not overloaded, has room (one of it is
   * taken) and a channel that delivers in time; `evenOverloaded`: any ready one, room untouched
   * (requests that are never shed, reports).
   */
  private pick(evenOverloaded: boolean): BackendState | null {
    const n = this.order.length;
    for (let i = 0; i < n; i++) {
      const id = this.order[(this.next + i) % n];
      const s = this.backends.get(id)!;
      if (s.ready && (evenOverloaded || (!s.overloaded && s.room >= 1 && s.pipe.open))) {
        this.next = (this.next + i + 1) % n;
        if (!evenOverloaded) s.room--;
        return s;
      }
    }
    return null;
  }

  private hand(s: BackendState, socket: net.Socket, head: Buffer | null, at: number): void {
    this.handedTotal++;
    s.pipe.sent();
    let done = false;
    s.b.send({ cmd: 'gw:conn', head: head ? head.toString('latin1') : '', at }, socket, () => {
      if (done) return;
      done = true;
      s.pipe.delivered();
      this.wake();
    });
  }

  private onConnection(socket: net.Socket): void {
    socket.on('error', () => socket.destroy());
    const b = this.pick(false);
    // The common case: handed over unread (the socket was never read here).
    if (b) return this.hand(b, socket, null, wallMs());
    this.keep(socket);
  }

  /**
   * A connection the acceptor answers itself while every gateway process is overloaded, request
   * after request (kept alive, as the gateway would: a client's retry costs no new connection on
   * either side). Between two requests, once a gateway process has room again, the connection is
   * handed over with the bytes already read of the next request. The body of a shed request is
   * skipped by its Content-Length; a chunked body, HTTP/1.0 or `connection: close` ends the
   * connection after the answer.
   */
  private keep(socket: net.Socket): void {
    let buf: Buffer | null = null;
    /** When the first byte of `buf` was read (the request the gateway process would time from). */
    let bufAt = 0;
    /** Body bytes of the last shed request still to be skipped. */
    let skip = 0;
    /** The deadline of a request waiting for a process that may take it soon (see `mayTakeSoon`). */
    let retry: NodeJS.Timeout | null = null;
    /** The request at the head of `buf` waited for one (how the wait ended is counted in `waits`). */
    let waiting = false;
    const idle = this.opts.keepAliveMs ?? 72_000;
    socket.setTimeout(idle, () => socket.destroy());
    const onData = (chunk: Buffer) => {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length);
        skip -= n;
        chunk = chunk.subarray(n);
        if (!chunk.length) return;
      }
      if (!buf) bufAt = wallMs();
      buf = buf ? Buffer.concat([buf, chunk]) : chunk;
      drain();
    };
    const drain = () => {
      if (retry) clearTimeout(retry);
      retry = null;
      this.waiters.delete(drain);
      while (buf && buf.length) {
        const end = buf.indexOf(CRLFCRLF);
        const ingest = isIngestRequest(buf);
        const to = this.pick(false) ?? (ingest || end < 0 ? null : this.pick(true));
        if (to) {
          // Stop reading at once: what follows belongs to the gateway process's parser.
          socket.off('data', onData);
          socket.setTimeout(0);
          stopReading(socket);
          if (waiting) this.waits.ended(true);
          return this.hand(to, socket, buf, bufAt);
        }
        // A process that is not overloaded but cannot take it this moment (its channel busy with a
        // burst of connections or one long turn of its loop, or no room in its last report, a
        // quarter second's busy share): the request waits for the next delivery or report, up to
        // `keptMaxWaitMs` since it was read, before it is shed. Not while recent waits ended in a 503
        // anyway (sustained overload, acceptor-waits.ts): then it is shed at once.
        const waited = wallMs() - bufAt;
        const bound = this.opts.keptMaxWaitMs ?? HANDOVER_MAX_WAIT_MS;
        if (ingest && end >= 0 && waited < bound && this.mayTakeSoon() && (waiting || this.waits.worthWaiting())) {
          waiting = true;
          this.waiters.add(drain);
          retry = setTimeout(drain, bound - waited + 1);
          return;
        }
        if (end < 0) {
          // A head not whole yet: wait for more, up to a bound.
          if (buf.length > MAX_HEAD) this.answer(socket, buf, 'overloaded', ingest, true);
          return;
        }
        const head = buf.subarray(0, end + 4);
        const text = head.toString('latin1').toLowerCase();
        const length = /\r\ncontent-length:[ \t]*(\d+)/.exec(text);
        const close = !ingest || text.includes('\r\ntransfer-encoding:') || / http\/1\.0\r\n/.test(text.slice(0, text.indexOf('\r\n') + 2)) || /\r\nconnection:[ \t]*close/.test(text);
        if (waiting) this.waits.ended(false);
        waiting = false;
        this.answer(socket, head, !this.pick(true) ? 'not_ready' : this.channelOnly() ? 'busy' : 'overloaded', ingest, close);
        if (close) return;
        const bodyBytes = length ? Number(length[1]) : 0;
        const rest: Buffer = buf.subarray(end + 4);
        const taken = Math.min(bodyBytes, rest.length);
        skip = bodyBytes - taken;
        buf = rest.length > taken ? rest.subarray(taken) : null;
      }
    };
    socket.on('data', onData);
    socket.once('close', () => {
      if (retry) clearTimeout(retry);
      this.waiters.delete(drain);
    });
    socket.resume();
  }

  /**
   * Whether a ready process had room and was held back only by its channel (a burst of new
   * connections): a `busy` shed. No room counts as overload: under load the processes' loops are
   * saturated long before one of them sheds itself (the acceptor spares them that).
   */
  private channelOnly(): boolean {
    for (const s of this.backends.values()) if (s.ready && !s.overloaded && s.room >= 1) return true;
    return false;
  }

  /** Whether a ready process is not overloaded: held back only by its channel (handover-pipe.ts) or its last room report. */
  private mayTakeSoon(): boolean {
    for (const s of this.backends.values()) if (s.ready && !s.overloaded) return true;
    return false;
  }

  /** Requests kept here look again: a channel delivered, or a process reported. */
  private wake(): void {
    if (this.waiters.size === 0) return;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const drain of waiters) drain();
  }

  /**
   * Answers one request 503; `ingest`: an ingest request, counted (other requests are answered so
   * only while no gateway process is ready); `close`: the connection ends after the answer.
   */
  private answer(socket: net.Socket, head: Buffer, why: AcceptorShed, ingest: boolean, close: boolean): void {
    if (ingest) {
      this.shedTotal++;
      this.unreported++;
      if (why === 'busy') this.unreportedBusy++;
      this.logShed(why);
    }
    const id = `acc-${process.pid.toString(36)}-${(++this.shedIds).toString(36)}`;
    const retryAfter = 1 + Math.floor(Math.random() * Math.max(1, this.opts.retryAfterMaxS));
    const bytes = shedAnswer(id, retryAfter, originOf(head), why, !close);
    if (!close) {
      socket.write(bytes);
      return;
    }
    socket.end(bytes);
    // What the client still sends is read and dropped until it closes; a client that never does is cut off.
    socket.removeAllListeners('data');
    socket.on('data', () => {});
    setTimeout(() => socket.destroy(), this.opts.lingerMs ?? 5000).unref();
  }

  /** Why the acceptor shed, with each gateway process's state, at most once a second: `busy` sheds (room, but a full channel) say which channel held them back. */
  private logShed(why: AcceptorShed): void {
    const t = performance.now();
    if (!this.opts.log || t - this.shedLoggedAt < 1000) {
      this.shedUnlogged++;
      return;
    }
    const states = [...this.backends.values()].map((s) => ({ ready: s.ready, overloaded: s.overloaded, room: s.room, handoversWaiting: s.pipe.queued, handoversAllowed: s.pipe.allowed, open: s.pipe.open }));
    this.opts.log(`acceptor shed a request (${why}; ${this.shedUnlogged} more since the last line; recent waits for a process ended ${JSON.stringify(this.waits.recent)}): ${JSON.stringify(states)}`);
    this.shedLoggedAt = t;
    this.shedUnlogged = 0;
  }

  /** The sheds since the last report, and this loop's longest delay, go to one gateway process, which counts them in its metrics. */
  private report(): void {
    const to = this.pick(true);
    if (!to) return;
    const loopDelayMs = this.loopDelay.max / 1e6;
    this.loopDelay.reset();
    to.b.send({ cmd: 'gw:shed', n: this.unreported, busy: this.unreportedBusy, loopDelayMs });
    this.unreported = 0;
    this.unreportedBusy = 0;
  }
}
