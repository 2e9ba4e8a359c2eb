/**
 * --profile of bench:gateway: one more measured run of a gateway process started under
 * `node --cpu-prof`, and where its CPU time went (self time by area and function, inclusive
 * time of the gateway's named steps).
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { BodyPool } from './bodies.js';
import type { NodeChild } from './child.js';
import { summarise } from './cpuprofile.js';
import { measure } from './measure.js';
import { log } from './run.js';
import { int, table } from './stats.js';

/** Functions whose inclusive time the profile summary reports (names as V8 sees them). */
const PROFILED_FUNCTIONS = ['ingest', 'enrichEvent', 'validate', 'toBatch', 'send', 'sendBatch', 'parseUa', 'lookup', 'stringify', 'parse', 'runMiddleware', 'writeHead', 'onRequest', 'limited'];

export async function profileRun(opts: {
  /** Which process: the real gateway, or the one with Kafka stubbed out (its own work only). */
  target: 'gateway' | 'stub';
  dir: string;
  /** Starts the process with these Node flags, on `port`. */
  start: (nodeFlags: string[]) => Promise<NodeChild>;
  port: number;
  kafkaPid: number | undefined;
  pool: BodyPool;
  warmupS: number;
  durationS: number;
  connections: number;
}): Promise<string> {
  const { dir } = opts;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const profiled = await opts.start(['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const load = { port: opts.port, connections: opts.connections };
  await measure('profile warm-up', profiled, opts.kafkaPid, opts.pool, { ...load, duration: opts.warmupS });
  const m = await measure(`${opts.target} (profiled)`, profiled, opts.kafkaPid, opts.pool, { ...load, duration: opts.durationS });
  log(`profiled run of the ${opts.target}: ${int(m.reqPerS)} req/s, ${int(m.eventsPerS)} events/s (profiling costs some)`);
  await profiled.stop();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
  // The measured run and the shutdown after it; not start-up, module loading or the warm-up.
  const s = summarise(path.join(dir, file), PROFILED_FUNCTIONS, (opts.durationS + 2) * 1000);
  const busy = s.totalMs - s.idleMs;
  const share = (x: number) => `${((x / busy) * 100).toFixed(1)}%`;
  return [
    `CPU profile of the ${opts.target === 'stub' ? 'gateway with Kafka stubbed out' : 'gateway'} process (${path.join(dir, file)}), ${(busy / 1000).toFixed(1)} s busy of ${(s.totalMs / 1000).toFixed(1)} s, shares of busy time:`,
    '',
    'by area (self time):',
    table(['area', 'ms', 'share'], s.byArea.filter((x) => x.area !== 'idle').slice(0, 18).map((x) => [x.area, int(x.ms), share(x.ms)])),
    '',
    'by function (self time):',
    table(['function', 'where', 'ms', 'share'], s.byFunction.filter((x) => x.area !== 'idle').slice(0, 30).map((x) => [x.fn, x.where, int(x.ms), share(x.ms)])),
    '',
    'inclusive time of functions named:',
    table(['function', 'ms', 'share'], s.inclusive.map((x) => [x.fn, int(x.ms), share(x.ms)])),
  ].join('\n');
}
