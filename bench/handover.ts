/**
 * bench:handover — how long a connection waits for its hand-over from the acceptor to a busy
 * gateway process, with the hand-over paced by the process's IPC channel (handover-pipe.ts) and
 * without (every connection sent at once, as before: Node queues it in this process until the
 * channel has delivered the ones before, one per turn of the receiving process's loop).
 *
 *   npm run bench:handover -- [--turn-ms 20] [--rate 200] [--duration 5] [--reps 2]
 *
 * The real Acceptor (gateway/acceptor.ts) in this process, one cluster worker standing in for a
 * gateway process: it answers every request 200 at once, and blocks its loop --turn-ms per turn
 * with Atomics.wait (a busy process's long turns, without taking CPU: the figures do not depend on
 * what else the machine runs). A client in this process opens --rate connections a second, one
 * POST each, and times each answer from its first byte written: 200 (handed over) or 503 (shed by
 * the acceptor). Paced and unpaced alternate, --reps times each, every run with a fresh worker.
 */
import cluster from 'node:cluster';
import http from 'node:http';
import net from 'node:net';
import { Acceptor, isAcceptorMessage, type AcceptorMessage } from '../gateway/acceptor.js';
import { parseArgs } from './lib/args.js';
import { int, ms, percentile, table } from './lib/stats.js';

const a = parseArgs();
const TURN_MS = a.num('turn-ms', 20);
const RATE = a.num('rate', 200);
const DURATION_S = a.num('duration', 5);
const REPS = a.num('reps', 2);

/** The stand-in gateway process: answers 200 at once, its loop blocked TURN_MS per turn. */
function workerMain(): void {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  process.on('message', (m: AcceptorMessage, socket?: net.Socket) => {
    if (m.cmd !== 'gw:conn' || !socket) return;
    server.emit('connection', socket);
    if (m.head) socket.emit('data', Buffer.from(m.head, 'latin1'));
    socket.resume();
  });
  const block = new Int32Array(new SharedArrayBuffer(4));
  const turn = () => {
    Atomics.wait(block, 0, 0, TURN_MS);
    setImmediate(turn);
  };
  turn();
  process.send!({ cmd: 'gw:ready' });
}

interface Result {
  ok: number[];
  shed: number[];
  failed: number;
}

/** One run: a fresh worker behind a fresh acceptor, paced or not; the client's answers. */
async function run(paced: boolean): Promise<Result> {
  const w = cluster.fork();
  const acceptor = new Acceptor({ host: '127.0.0.1', port: 0, backlog: 4096, maxConnections: 10_000, retryAfterMaxS: 5 });
  acceptor.add({
    id: w.id,
    send: (m, socket, delivered) => {
      w.send(m, socket as net.Socket, () => paced && delivered?.());
      // Unpaced: counted delivered at once, so the acceptor never waits for the channel.
      if (!paced) delivered?.();
    },
  });
  const ready = new Promise<void>((resolve) =>
    w.on('message', (m: unknown) => {
      if (!isAcceptorMessage(m)) return;
      acceptor.onMessage(w.id, m);
      if (m.cmd === 'gw:ready') resolve();
    }),
  );
  await acceptor.listen();
  await ready;
  const { port } = acceptor.server.address() as net.AddressInfo;
  const res: Result = { ok: [], shed: [], failed: 0 };
  const body = '{"events":[]}';
  const request = `POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
  const pending = new Set<Promise<void>>();
  const one = () => {
    const p = new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let at = 0;
      let text = '';
      s.setEncoding('latin1');
      s.on('connect', () => {
        at = performance.now();
        s.write(request);
      });
      s.on('data', (d: string) => (text += d));
      s.on('error', () => {});
      s.on('close', () => {
        const took = performance.now() - at;
        if (text.startsWith('HTTP/1.1 200')) res.ok.push(took);
        else if (text.startsWith('HTTP/1.1 503')) res.shed.push(took);
        else res.failed++;
        resolve();
      });
      s.setTimeout(30_000, () => s.destroy());
    });
    pending.add(p);
    void p.then(() => pending.delete(p));
  };
  const total = Math.round(RATE * DURATION_S);
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    one();
  }
  await Promise.all(pending);
  acceptor.close();
  w.kill();
  await new Promise((r) => w.once('exit', r));
  return res;
}

async function main(): Promise<void> {
  console.log(`hand-over to a process whose loop turns take ${TURN_MS} ms: ${RATE} new connections/s for ${DURATION_S} s, ${REPS} runs each, alternated`);
  const rows: (string | number)[][] = [];
  for (let r = 0; r < REPS; r++) {
    for (const paced of r % 2 === 0 ? [true, false] : [false, true]) {
      const x = await run(paced);
      rows.push([paced ? 'paced by the channel' : 'unpaced (before)', r + 1, int(x.ok.length), ms(percentile(x.ok, 50)), ms(percentile(x.ok, 99)), int(x.shed.length), ms(percentile(x.shed, 50)), ms(percentile(x.shed, 99)), x.failed]);
    }
  }
  console.log(table(['hand-over', 'run', 'handed over (200)', '200 p50', '200 p99', 'shed by the acceptor', 'shed p50', 'shed p99', 'failed'], rows));
}

if (cluster.isPrimary) await main();
else workerMain();
