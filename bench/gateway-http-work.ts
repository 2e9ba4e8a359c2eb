/**
 * bench:gateway-http-work — the gateway's own work per request with HTTP around it and no Kafka:
 * the bare Fastify route and the gateway with Kafka stubbed out (bench:gateway's `stub` target),
 * alternated for `--reps` closed-loop runs each, and the CPU milliseconds per request of each
 * process (robust to a shared machine, unlike requests/s). The difference is what the gateway
 * adds to parsing: hooks (CORS, rate limits, admission, metrics), validation, dedup, enrichment,
 * serialisation. No broker is started, so it takes about a minute. `--profile` runs the stub once
 * more under `node --cpu-prof` and prints where its time went. `--ab-root DIR`: the stub of another
 * checkout (e.g. main in a git worktree) too, in the same rotation (which stub goes first
 * alternates), and the ratio of the two stubs' CPU per request in each repetition.
 *
 *   npm run bench:gateway-http-work -- [--reps 5] [--duration 5] [--connections 32] [--profile] [--ab-root DIR]
 */
import path from 'node:path';
import { parseArgs } from './lib/args.js';
import { bodyPool } from './lib/bodies.js';
import { gatewayProcesses } from './lib/gateway-processes.js';
import { profileRun } from './lib/gateway-profile.js';
import { measure, type Measured } from './lib/measure.js';
import { log, runBench } from './lib/run.js';
import { resolveDataDir } from '../infra/paths.js';

const a = parseArgs();
const REPS = a.num('reps', 5);
const DURATION = a.num('duration', 5);
const CONNECTIONS = a.num('connections', 32);
const PROFILE = a.flag('profile');
const BARE_PORT = a.num('bare-port', 28071);
const STUB_PORT = a.num('stub-port', 28072);
const AB_ROOT = a.str('ab-root', '');
const AB_PORT = a.num('ab-port', 28073);
const DATA_DIR = resolveDataDir(a.str('data-dir', '.data/bench/gateway-http-work'));

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

await runBench('gateway-http-work', 15 * 60, async () => {
  const pool = bodyPool({ size: 2000, eventsPerBody: 20, seed: 42 });
  // No broker: the stub never connects; the port only fills the settings in.
  const procs = gatewayProcesses({ dataDir: DATA_DIR, kafkaPort: 1, kafkaClient: { kafkaBrokers: ['127.0.0.1:1'], kafkaSsl: false, kafkaSslCaFile: '', kafkaSaslMechanism: '', kafkaSaslUsername: '', kafkaSaslPassword: '' } });
  const bare = await procs.bare(BARE_PORT);
  const stub = await procs.variant('stub', 'platformatic', STUB_PORT);
  const abStub = AB_ROOT ? await procs.variant('stub', 'platformatic', AB_PORT, [], AB_ROOT) : null;
  const load = (port: number, duration: number) => ({ port, duration, connections: CONNECTIONS });
  await measure('bare warm-up', bare, undefined, pool, load(BARE_PORT, 2));
  await measure('stub warm-up', stub, undefined, pool, load(STUB_PORT, 3));
  if (abStub) await measure('ab stub warm-up', abStub, undefined, pool, load(AB_PORT, 3));
  const runs: { bare: Measured; stub: Measured; ab?: Measured }[] = [];
  for (let i = 0; i < REPS; i++) {
    const b = await measure('bare', bare, undefined, pool, load(BARE_PORT, DURATION));
    const measureAb = async () => (abStub ? measure('ab stub', abStub, undefined, pool, load(AB_PORT, DURATION)) : undefined);
    const abFirst = i % 2 === 1 ? await measureAb() : undefined;
    const s = await measure('stub', stub, undefined, pool, load(STUB_PORT, DURATION));
    const ab = abFirst ?? (await measureAb());
    runs.push({ bare: b, stub: s, ab });
    log(`run ${i + 1}: bare ${b.cpuMsPerReq.server.toFixed(3)} ms CPU/request (${Math.round(b.reqPerS)} req/s), stub ${s.cpuMsPerReq.server.toFixed(3)} ms (${Math.round(s.reqPerS)} req/s, non-2xx ${s.non2xx}), own work ${(s.cpuMsPerReq.server - b.cpuMsPerReq.server).toFixed(3)} ms; load ${s.load}`);
    if (ab) log(`run ${i + 1}: --ab-root stub ${ab.cpuMsPerReq.server.toFixed(3)} ms (${Math.round(ab.reqPerS)} req/s, non-2xx ${ab.non2xx}), own work ${(ab.cpuMsPerReq.server - b.cpuMsPerReq.server).toFixed(3)} ms; this stub / --ab-root stub ${(s.cpuMsPerReq.server / ab.cpuMsPerReq.server).toFixed(3)}`);
  }
  const own = runs.map((r) => r.stub.cpuMsPerReq.server - r.bare.cpuMsPerReq.server);
  console.log(
    `\nCPU per request (median of ${REPS} x ${DURATION} s): bare route ${median(runs.map((r) => r.bare.cpuMsPerReq.server)).toFixed(3)} ms, ` +
      `gateway with Kafka stubbed ${median(runs.map((r) => r.stub.cpuMsPerReq.server)).toFixed(3)} ms, own work (difference) ${median(own).toFixed(3)} ms (target <= 0.150)`,
  );
  const abRuns = runs.filter((r): r is typeof r & { ab: Measured } => r.ab !== undefined);
  if (abRuns.length > 0) {
    console.log(
      `--ab-root ${AB_ROOT} stub: ${median(abRuns.map((r) => r.ab.cpuMsPerReq.server)).toFixed(3)} ms CPU/request, own work ${median(abRuns.map((r) => r.ab.cpuMsPerReq.server - r.bare.cpuMsPerReq.server)).toFixed(3)} ms; ` +
        `this stub / --ab-root stub per repetition: median ${median(abRuns.map((r) => r.stub.cpuMsPerReq.server / r.ab.cpuMsPerReq.server)).toFixed(3)} (${abRuns.map((r) => (r.stub.cpuMsPerReq.server / r.ab.cpuMsPerReq.server).toFixed(2)).join(' ')})`,
    );
  }
  if (PROFILE) {
    await stub.stop();
    console.log(
      '\n' +
        (await profileRun({
          target: 'stub',
          dir: path.join(DATA_DIR, 'profile'),
          start: (flags) => procs.variant('stub', 'platformatic', STUB_PORT, flags),
          port: STUB_PORT,
          kafkaPid: undefined,
          pool,
          warmupS: 3,
          durationS: DURATION * 2,
          connections: CONNECTIONS,
        })),
    );
  }
});
