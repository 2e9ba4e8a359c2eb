import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Newest modification time of the files under `dirs` (relative to the repository root). */
function newest(dirs: string[]): number {
  const walk = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((d) => (d.isDirectory() ? walk(`${dir}/${d.name}`) : statSync(`${dir}/${d.name}`).mtimeMs)));
  return Math.max(...dirs.map((d) => walk(`${root}${d}`)));
}

function ensureBuilt(outputs: string[], sources: string[], command: string): void {
  const files = outputs.map((o) => `${root}${o}`);
  if (files.every(existsSync) && Math.min(...files.map((f) => statSync(f).mtimeMs)) >= newest(sources)) return;
  execSync(command, { cwd: root, stdio: 'pipe' });
  for (const f of files) if (!existsSync(f)) throw new Error(`${command} did not produce ${f}`);
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
