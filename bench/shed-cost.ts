/**
 * What a shed request costs, in CPU (so the figure holds on a busy machine, where wall-clock rates
 * do not): the real gateway app with one request held in flight (bench/shed-server.ts), then
 * `--requests` ingest requests on `--connections` connections in a closed loop, each answered
 * 503 GW_ERR_OVERLOADED. Measured per shed request:
 * - `inline`: the gateway process sheds on its own thread (keep-alive connections, as today);
 * - `acceptor`: GATEWAY_ACCEPTOR, the gateway process closes the connection of the request it
 *   sheds, and the acceptor process sheds every new one: CPU of the gateway process and of the
 *   acceptor, apart.
 * The gateway process's figure is what a shed takes from the accepted requests (~350 µs each on
 * one core): at 5x the maximum, holding 90 % of the maximum on that core leaves under 9 µs per shed.
 *
 *   npm run bench:shed -- [--requests 20000] [--connections 32] [--port 28290] [--modes inline,acceptor]
 *                          [--paced 10000 [--paced-duration 8] [--new-connections 0.1]]
 */
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from './lib/args.js';
import { bodyPool } from './lib/bodies.js';
import { NodeChild, cpuSecondsOf, cpuSecondsOfTree, httpOk, rssMbOfTree } from './lib/child.js';
import { EVENTS_PATH } from './lib/measure.js';
import { openLoopLoad } from './lib/open-loop.js';
import { log, onCleanup, runBench } from './lib/run.js';
import { int, loadAverage, table } from './lib/stats.js';

const a = parseArgs();
const REQUESTS = a.num('requests', 20_000);
const CONNECTIONS = a.num('connections', 32);
const PORT = a.num('port', 28290);
const MODES = a.str('modes', 'inline,acceptor').split(',').filter(Boolean) as ('inline' | 'acceptor')[];
/**
 * --paced N: the measured load is N requests/s for --paced-duration s from the open-loop generator
 * (lib/open-loop.ts, evenly spaced like the overload phases of bench:gateway) instead of the closed
 * loop, whose requests arrive in bursts the acceptor reads many at a time; --new-connections: share of
 * them on a connection of their own (connection: close), as browsers arriving in a spike.
 */
const PACED = a.num('paced', 0);
const PACED_S = a.num('paced-duration', 8);
const NEW_CONNECTIONS = a.num('new-connections', 0);
const LOG_DIR = path.resolve(a.str('data-dir', '.data/bench/shed'), 'logs');

const body = bodyPool({ size: 1, eventsPerBody: 20, seed: 42, tag: 'shed' }).body(0);
const request = Buffer.from(
  `POST /v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nuser-agent: ${body.ua}\r\norigin: https://shop.example\r\ncontent-length: ${Buffer.byteLength(body.body)}\r\n\r\n${body.body}`,
);

interface Tally {
  byGateway: number;
  byAcceptor: number;
  other: number;
  connections: number;
}

/** `n` requests over `c` connections, one at a time on each; a connection the server closes is replaced. */
function load(n: number, c: number, t: Tally): Promise<void> {
  let sent = 0;
  let answered = 0;
  /** The requests on the way (by local port: how long ago, bytes of answer so far), named when the load stops progressing. */
  const pending = new Map<number, () => string>();
  return new Promise((resolve, reject) => {
    let last = answered;
    let still = 0;
    const watchdog = setInterval(() => {
      if (answered !== last || answered >= n) return void ((last = answered), (still = 0));
      if (++still < 10) return;
      clearInterval(watchdog);
      reject(new Error(`no answer for 10 s after ${answered} of ${n}: ${[...pending.values()].map((f) => f()).join('; ') || 'no request on the way'}`));
    }, 1000).unref();
    const finish = () => {
      clearInterval(watchdog);
      resolve();
    };
    const open = () => {
      t.connections++;
      const s = net.connect(PORT, '127.0.0.1');
      s.setNoDelay(true);
      let buf = '';
      let busy = false;
      let at = 0;
      const next = () => {
        if (sent >= n) return s.end();
        sent++;
        busy = true;
        at = performance.now();
        s.write(request);
        const port = s.localPort ?? -1;
        pending.set(port, () => `port ${port}: sent ${Math.round(performance.now() - at)} ms ago, ${buf.length} B of answer`);
      };
      s.setEncoding('latin1');
      s.on('connect', next);
      s.on('data', (d: string) => {
        buf += d;
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const answer = buf.slice(0, end + 4 + length);
        buf = buf.slice(end + 4 + length);
        busy = false;
        answered++;
        if (!answer.startsWith('HTTP/1.1 503')) t.other++;
        // The acceptor's answers carry its request ids (acceptor.ts), whichever reason they give.
        else if (/\r\nx-request-id: acc-/.test(answer)) t.byAcceptor++;
        else t.byGateway++;
        pending.delete(s.localPort ?? -1);
        if (answered >= n) return finish();
        if (/\r\nconnection: close/i.test(answer)) {
          s.destroy();
          if (sent < n) open();
        } else next();
      });
      s.on('error', (err) => (busy ? reject(err) : undefined));
      s.on('close', () => {
        // Closed while a request was on it: counted as sent again on a new connection.
        if (busy && answered < n) {
          pending.delete(s.localPort ?? -1);
          sent--;
          busy = false;
          open();
        }
      });
    };
    for (let i = 0; i < c; i++) open();
  });
}

/** The --paced load: its requests, tallied like the closed loop's (the acceptor's answers say so in their message). */
async function paced(t: Tally): Promise<number> {
  const r = await openLoopLoad({
    port: PORT,
    path: EVENTS_PATH,
    rate: PACED,
    durationS: PACED_S,
    threads: 1,
    offset: 0,
    pool: { size: 200, seed: 42, tag: `shedp${Date.now().toString(36)}`, eventsPerBody: 20 },
    maxConnections: 1024,
    warmConnections: 256,
    newConnectionShare: NEW_CONNECTIONS,
  });
  // Only the count is known here, not who answered: the gateway process sheds a handful before it is marked overloaded.
  for (const [status, xs] of r.latencies) if (status === 503) t.byAcceptor += xs.length;
  else t.other += xs.length;
  t.other += r.errors + r.timeouts;
  t.connections += r.connectionsOpened;
  return r.sent;
}

/**
 * The one request admitted and held: its connection stays open, unanswered. On a loaded machine the
 * acceptor may shed it (the gateway process's channel still busy with the readiness checks); then the
 * next request would be admitted and held instead, unseen, and the load would wait for it forever.
 * So it is sent again until no answer comes for half a second.
 */
async function holdOne(): Promise<net.Socket> {
  for (let attempt = 1; attempt <= 20; attempt++) {
    const s = net.connect(PORT, '127.0.0.1');
    s.on('error', () => {});
    let answered = false;
    s.once('data', () => (answered = true));
    s.write(request);
    await new Promise((r) => setTimeout(r, 500));
    if (!answered) return s;
    s.destroy();
  }
  throw new Error('every request was answered: none held in flight, so none would be shed');
}

interface Row {
  mode: string;
  gatewayUs: number;
  /** Less what it spends idle over the same time. */
  gatewayNetUs: number;
  acceptorUs: number;
  byGateway: number;
  byAcceptor: number;
  other: number;
  connections: number;
  perS: number;
  rssMb: number;
}

async function measure(mode: 'inline' | 'acceptor'): Promise<Row> {
  const child = new NodeChild(`shed-${mode}`, 'bench/shed-server.ts', {
    env: { ...process.env, NODE_ENV: 'production', MODE: mode, GATEWAY_PORT: String(PORT), LOG_LEVEL: 'warn', SITES: '', SITES_FILE: '' },
    logFile: path.join(LOG_DIR, `shed-${mode}.log`),
  });
  onCleanup(child.name, () => child.stop());
  await child.waitReady(() => httpOk(`http://127.0.0.1:${PORT}/healthz`), 120_000);
  const held = await holdOne();
  const warm: Tally = { byGateway: 0, byAcceptor: 0, other: 0, connections: 0 };
  await load(Math.min(2000, REQUESTS), CONNECTIONS, warm);
  const acceptorCpu = () => (mode === 'acceptor' ? cpuSecondsOf(child.pid) : 0);
  const gatewayCpu = () => (mode === 'acceptor' ? cpuSecondsOfTree(child.pid) - cpuSecondsOf(child.pid) : cpuSecondsOf(child.pid));
  // What the gateway process spends idle (timers, metrics, the machine's noise), over 3 s: taken off its figure.
  const i0 = gatewayCpu();
  await new Promise((r) => setTimeout(r, 3000));
  const idlePerS = (gatewayCpu() - i0) / 3;
  const t: Tally = { byGateway: 0, byAcceptor: 0, other: 0, connections: 0 };
  const g0 = gatewayCpu();
  const a0 = acceptorCpu();
  const t0 = performance.now();
  const n = PACED > 0 ? await paced(t) : (await load(REQUESTS, CONNECTIONS, t), REQUESTS);
  const wall = (performance.now() - t0) / 1000;
  const row: Row = {
    mode,
    gatewayUs: ((gatewayCpu() - g0) * 1e6) / n,
    gatewayNetUs: ((gatewayCpu() - g0 - idlePerS * wall) * 1e6) / n,
    acceptorUs: ((acceptorCpu() - a0) * 1e6) / n,
    ...t,
    perS: n / wall,
    rssMb: rssMbOfTree(child.pid),
  };
  held.destroy();
  await child.stop();
  log(`${mode}: ${JSON.stringify(row)}`);
  return row;
}

await runBench('bench:shed', 900, async () => {
  if (PACED > 0) log(`measured load: ${int(PACED)} requests/s paced for ${PACED_S} s (open loop), ${NEW_CONNECTIONS * 100} % on a connection of their own`);
  log(`shed cost: ${int(REQUESTS)} shed requests of ${Buffer.byteLength(body.body)} B bodies on ${CONNECTIONS} connections per mode; loadavg ${await loadAverage()}`);
  const rows: Row[] = [];
  for (const m of MODES) rows.push(await measure(m));
  console.log('');
  console.log(
    table(
      ['mode', 'gateway process CPU per shed', 'same, less its idle CPU', 'acceptor CPU per shed', 'shed by gateway / acceptor', 'other answers', 'connections opened', 'sheds/s (wall, this machine)', 'RSS after'],
      rows.map((r) => [
        r.mode,
        `${r.gatewayUs.toFixed(1)} µs`,
        `${r.gatewayNetUs.toFixed(1)} µs`,
        r.mode === 'acceptor' ? `${r.acceptorUs.toFixed(1)} µs` : '-',
        `${int(r.byGateway)} / ${int(r.byAcceptor)}`,
        int(r.other),
        int(r.connections),
        int(r.perS),
        `${int(r.rssMb)} MB`,
      ]),
    ),
  );
  const inline = rows.find((r) => r.mode === 'inline');
  const acc = rows.find((r) => r.mode === 'acceptor');
  if (inline && acc) console.log(`gateway process CPU per shed, behind the acceptor vs inline: ${(acc.gatewayUs / inline.gatewayUs).toFixed(3)}x (${acc.gatewayUs.toFixed(1)} / ${inline.gatewayUs.toFixed(1)} µs)`);
  console.log('budget at 5x the maximum for 90 % of it on the gateway core (~350 µs per accepted request): under 9 µs per shed');
  if (rows.some((r) => r.other > 0)) throw new Error('answers other than 503 while shedding');
});
