import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { ElasticsearchDist } from './fetch.js';
import { findJava } from './java.js';
import { JvmProcess } from './jvm-process.js';
import { assertPortsFree } from './ports.js';
import { JvmService } from './service.js';

export interface ElasticsearchNodeOptions {
  /** Folder of this node: config, data, logs and tmp live under it. */
  dir: string;
  port: number;
  transportPort: number;
  /** JVM heap, e.g. 1g. */
  heap: string;
  /** Threads of the write pool (ES_WRITE_THREADS; 0 or unset: the cores + 1). */
  writeThreads?: number;
  /** Threads of the refresh pool (ES_REFRESH_THREADS; 0 or unset: refreshThreads()'s). */
  refreshThreads?: number;
  startTimeoutMs: number;
  log: (msg: string) => void;
  /** The node's `path.repo`: where shared-filesystem snapshot repositories may live (default `<dir>/snapshots`). */
  repoDir?: string;
  /** When started by root: force one way of dealing with it (see the class comment); chosen automatically by default. */
  rootMode?: RootMode;
}

const NOBODY = 65534;

export type RootMode = 'run-as-nobody' | 'jna-disabled';

/**
 * A real Elasticsearch 8 node (the integ-test-zip distribution from Maven Central), single-node
 * discovery on 127.0.0.1, no security. It is started through the distribution's own launcher
 * (org.elasticsearch.launcher.CliToolLauncher, what bin/elasticsearch runs), which builds the
 * server JVM's options and forks it; the server JVM exits when the launcher dies.
 *
 * Running as root: Elasticsearch refuses to start as root. When we are root:
 * 1. run-as-nobody (preferred): the launcher is spawned with uid/gid 65534 (`nobody`, which every
 *    Debian has: no useradd) and the node's folder is chowned to it. A complete Elasticsearch,
 *    native code included. Needs the distribution in .cache/ and the data folder's parents to be
 *    readable by nobody; checked before every start, as nobody.
 * 2. jna-disabled (fallback when nobody cannot read them, Java 17-20 only): Elasticsearch tells
 *    root through its native access layer, JNA on Java < 21. The server JVM gets
 *    -Djna.nounpack=true: with Elasticsearch's own -Djna.nosys=true, JNA finds no native library,
 *    Elasticsearch takes its fallback for platforms without native access ("cannot check if
 *    running as root"), and starts. Lost: memory locking, the seccomp filter, native vector code and
 *    zstd, so an index with `index.codec: best_compression` (or logsdb / time_series) fails.
 */
export class ElasticsearchNode extends JvmService {
  readonly name = 'elasticsearch';
  readonly url: string;
  readonly logFile: string;
  private readonly confDir: string;
  private readonly dataDir: string;
  private readonly logsDir: string;
  private readonly tmpDir: string;
  /** path.repo: `fs` snapshot repositories (npm run backup) live under it. */
  readonly repoDir: string;

  constructor(
    private readonly dist: ElasticsearchDist,
    private readonly opts: ElasticsearchNodeOptions,
  ) {
    super();
    this.url = `http://127.0.0.1:${opts.port}`;
    this.confDir = path.join(opts.dir, 'config');
    this.dataDir = path.join(opts.dir, 'data');
    this.logsDir = path.join(opts.dir, 'logs');
    this.tmpDir = path.join(opts.dir, 'tmp');
    this.repoDir = path.resolve(opts.repoDir ?? path.join(opts.dir, 'snapshots'));
    this.logFile = path.join(this.logsDir, 'console.log');
  }

  /**
   * How this node deals with being started by root (see the class comment). Call after the node's
   * folders exist: for run-as-nobody they are chowned, then nobody's access is checked.
   */
  private chooseRootMode(): 'not-root' | RootMode {
    if (this.opts.rootMode) return this.opts.rootMode;
    if (process.getuid?.() !== 0) return 'not-root';
    chownTree(this.opts.dir, NOBODY, NOBODY);
    const home = this.dist.home;
    const check = spawnSync('/bin/sh', ['-c', 'test -r "$1" && test -x "$2" && test -w "$3" && test -w "$4"', 'check', path.join(home, 'lib', 'cli-launcher'), path.join(home, 'modules'), this.confDir, this.dataDir], {
      uid: NOBODY,
      gid: NOBODY,
      stdio: 'ignore',
    });
    if (check.status === 0) return 'run-as-nobody';
    if (findJava().feature < 21) {
      this.opts.log(`elasticsearch: user nobody cannot read ${home} or write ${this.opts.dir}; running as root with JNA disabled instead`);
      return 'jna-disabled';
    }
    throw new Error(
      `Elasticsearch cannot run as root, and user nobody cannot read ${home} or write ${this.opts.dir}: ` +
        'make the project folder readable by others (chmod o+rx on it and its parents), or run as a non-root user',
    );
  }

  async start(): Promise<void> {
    if (this.proc?.alive) throw new Error('elasticsearch is already running');
    const t0 = Date.now();
    await assertPortsFree([
      { port: this.opts.port, what: 'Elasticsearch HTTP', setting: 'ES_PORT' },
      { port: this.opts.transportPort, what: 'Elasticsearch transport', setting: 'ES_TRANSPORT_PORT' },
    ]);
    this.makeDirs();
    const mode = this.chooseRootMode();
    this.writeConfig(mode);
    const java = findJava();
    const home = this.dist.home;
    this.proc = new JvmProcess({
      name: 'elasticsearch',
      command: java.bin,
      // What bin/elasticsearch-cli runs, minus the shell script and its separate Java version check.
      args: [
        '-Xms4m',
        '-Xmx64m',
        '-XX:+UseSerialGC',
        '-Dcli.name=server',
        `-Dcli.script=${path.join(home, 'bin', 'elasticsearch')}`,
        '-Dcli.libs=lib/tools/server-cli',
        `-Des.path.home=${home}`,
        `-Des.path.conf=${this.confDir}`,
        '-Des.distribution.type=zip',
        '-Des.java.type=ES_JAVA_HOME',
        '-cp',
        [path.join(home, 'lib', '*'), path.join(home, 'lib', 'cli-launcher', '*')].join(path.delimiter),
        'org.elasticsearch.launcher.CliToolLauncher',
      ],
      cwd: home,
      env: {
        ...process.env,
        ES_HOME: home,
        ES_PATH_CONF: this.confDir,
        ES_JAVA_HOME: java.home,
        ES_TMPDIR: this.tmpDir,
        // Options belong in config/jvm.options.d (written below); a stray value would override the heap.
        ES_JAVA_OPTS: '',
        JAVA_TOOL_OPTIONS: '',
        _JAVA_OPTIONS: '',
      },
      logFile: this.logFile,
      ...(mode === 'run-as-nobody' ? { uid: NOBODY, gid: NOBODY } : {}),
    });
    this.proc.onUnexpectedExit = (e) => {
      this.healthy = false;
      this.opts.log(`elasticsearch exited unexpectedly (${e.signal ?? `exit code ${e.code}`}); log: ${this.logFile}`);
    };
    await this.untilHealthy(this.proc, () => this.probe(), { timeoutMs: this.opts.startTimeoutMs, what: '_cluster/health yellow' });
    this.healthy = true;
    this.opts.log(
      `elasticsearch ready on ${this.url} in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${this.proc.pid}${mode === 'not-root' ? '' : `, root: ${mode}`})`,
    );
  }

  private async probe(): Promise<boolean> {
    const res = await fetch(`${this.url}/_cluster/health?wait_for_status=yellow&timeout=2s`, {
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) throw new Error(`_cluster/health answered ${res.status}`);
    const body = (await res.json()) as { status?: string };
    return body.status === 'yellow' || body.status === 'green';
  }

  private makeDirs(): void {
    for (const dir of [this.confDir, path.join(this.confDir, 'jvm.options.d'), this.dataDir, this.logsDir, this.tmpDir, this.repoDir]) {
      mkdirSync(dir, { recursive: true });
    }
  }

  private writeConfig(mode: 'not-root' | RootMode): void {
    const settings: Record<string, string | number | boolean> = {
      'cluster.name': 'clickstream-local',
      'node.name': 'node-1',
      'discovery.type': 'single-node',
      'network.host': '127.0.0.1',
      'http.port': this.opts.port,
      'transport.port': this.opts.transportPort,
      'path.data': this.dataDir,
      'path.logs': this.logsDir,
      // Snapshots (npm run backup) go to `fs` repositories, which must lie under path.repo.
      'path.repo': this.repoDir,
      // A shared development machine's disk must not turn indices read-only.
      'cluster.routing.allocation.disk.threshold_enabled': false,
      // Tests delete indices by wildcard.
      'action.destructive_requires_name': false,
      // Loopback only, for local development and tests: no TLS, no users.
      'xpack.security.enabled': false,
      // Elasticsearch gives refreshes half the cores (one on 2 cores), and a refresh of the raw or
      // session indices (or the write of a full indexing buffer, on the same pool) then holds the
      // KPI index's 250 ms refresh, seconds at a time on a busy node: KPI freshness waited for raw
      // indexing. Two threads at least, so the small KPI refresh runs beside a large one.
      'thread_pool.refresh.max': this.opts.refreshThreads && this.opts.refreshThreads > 0 ? this.opts.refreshThreads : refreshThreads(),
      // A bulk runs one task per shard it touches on the write pool (the cores' size by default):
      // on 2 cores a flush's sessions and URL x country bulk, or it and a raw-event bulk, held both
      // threads, and the analytics role's small KPI bulk queued behind them for their whole length.
      // One thread more (Elasticsearch's most) lets it run beside them at once.
      'thread_pool.write.size': writeThreads(this.opts.writeThreads),
    };
    writeFileSync(
      path.join(this.confDir, 'elasticsearch.yml'),
      `# Written by infra/elasticsearch.ts at every start; edit that file instead.\n${Object.entries(settings)
        .map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v) : v}`)
        .join('\n')}\n`,
    );
    // The distribution's jvm.options, with the files it writes moved from ES_HOME into our logs folder.
    const distConf = path.join(this.dist.home, 'config');
    const jvmOptions = readFileSync(path.join(distConf, 'jvm.options'), 'utf8')
      .replace(/file=(?:logs\/)?gc\.log/g, `file=${path.join(this.logsDir, 'gc.log')}`)
      .replace(/filecount=\d+,filesize=\d+m/g, 'filecount=4,filesize=16m')
      .replace(/-XX:ErrorFile=(?:logs\/)?hs_err/g, `-XX:ErrorFile=${this.logsDir}/hs_err`)
      // A 1 GB heap dump per out-of-memory is not wanted on a development machine.
      .replace(/^-XX:\+HeapDumpOnOutOfMemoryError$/m, '');
    writeFileSync(path.join(this.confDir, 'jvm.options'), jvmOptions);
    writeFileSync(
      path.join(this.confDir, 'jvm.options.d', 'infra.options'),
      [
        `-Xms${this.opts.heap}`,
        `-Xmx${this.opts.heap}`,
        // The launcher asks for the whole heap to be touched at start: slower to start, and the full
        // heap resident at once on a machine shared with the other services and tests.
        '-XX:-AlwaysPreTouch',
        ...(mode === 'jna-disabled' ? ['-Djna.nounpack=true'] : []),
        '',
      ].join('\n'),
    );
    const log4j = path.join(this.confDir, 'log4j2.properties');
    if (!existsSync(log4j)) writeFileSync(log4j, readFileSync(path.join(distConf, 'log4j2.properties')));
    if (mode === 'run-as-nobody') {
      chownTree(this.opts.dir, NOBODY, NOBODY);
      if (path.relative(path.resolve(this.opts.dir), this.repoDir).startsWith('..')) chownTree(this.repoDir, NOBODY, NOBODY);
    }
  }
}

function chownTree(dir: string, uid: number, gid: number): void {
  chownSync(dir, uid, gid);
  for (const entry of readdirSync(dir)) {
    const p = path.join(dir, entry);
    if (statSync(p).isDirectory()) chownTree(p, uid, gid);
    else chownSync(p, uid, gid);
  }
}

/** The write pool's size: `wanted` if set, at most the cores + 1 (Elasticsearch refuses more), else the cores + 1. */
export const writeThreads = (wanted = 0, cores = availableParallelism()) => (wanted > 0 ? Math.min(wanted, cores + 1) : cores + 1);

/** The refresh pool's size: Elasticsearch's own (half the cores, at most 10), but at least 2. */
export const refreshThreads = (cores = availableParallelism()) => Math.max(2, Math.min(10, Math.floor(cores / 2)));
