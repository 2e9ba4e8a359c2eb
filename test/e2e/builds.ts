import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Newest modification time of the files under `dirs` (relative to the repository root). */
function newest(dirs: string[]): number {
  const walk = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((d) => (d.isDirectory() ? walk(`${dir}/${d.name}`) : statSync(`${dir}/${d.name}`).mtimeMs)));
  return Math.max(...dirs.map((d) => walk(`${root}${d}`)));
}

/**
 * Runs `fn` holding a lock directory (mkdir is atomic): integration files run two at a time, and
 * two builds writing one dist/ at once would leave a mix, or one file reading the other's half.
 * A lock older than any build (a run killed while building) is taken over.
 */
function withBuildLock(fn: () => void): void {
  const lock = `${root}.data/build.lock`;
  mkdirSync(`${root}.data`, { recursive: true });
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 15 * 60_000) rmSync(lock, { recursive: true, force: true });
      else Atomics.wait(pause, 0, 0, 200);
    }
  }
  try {
    fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function ensureBuilt(outputs: string[], sources: string[], command: string): void {
  const files = outputs.map((o) => `${root}${o}`);
  const fresh = () => files.every(existsSync) && Math.min(...files.map((f) => statSync(f).mtimeMs)) >= newest(sources);
  if (fresh()) return;
  withBuildLock(() => {
    if (fresh()) return; // built by another file while this one waited
    execSync(command, { cwd: root, stdio: 'pipe' });
    for (const f of files) if (!existsSync(f)) throw new Error(`${command} did not produce ${f}`);
  });
}

/** Builds the SDK (`npm run build:sdk`) when its script-tag builds are missing or older than its sources. */
export function ensureSdkBuilt(): void {
  ensureBuilt(['sdk/dist/clickstream.min.js', 'sdk/dist/clickstream.full.min.js'], ['sdk/src', 'contracts'], 'npm run --silent build:sdk');
}

/** Builds the services as JavaScript (`npm run build`, what the image runs) when dist/ is missing or older than the sources. */
export function ensureDistBuilt(): void {
  ensureBuilt(
    ['dist/gateway/server.js', 'dist/processor/main.js', 'dist/dashboard/server.js', 'dist/infra/cli.js'],
    ['contracts', 'common', 'gateway', 'processor', 'dashboard', 'infra', 'scripts'],
    'npm run --silent build',
  );
}

/** Where the compiled services are. */
export const DIST = `${root}dist`;
