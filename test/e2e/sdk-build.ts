import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Builds the SDK (`npm run build:sdk`) when its script-tag builds are missing or older than its sources. */
export function ensureSdkBuilt(): void {
  const built = `${root}sdk/dist/clickstream.full.min.js`;
  const newestSource = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((d) =>
        d.isDirectory() ? newestSource(`${dir}/${d.name}`) : statSync(`${dir}/${d.name}`).mtimeMs,
      ),
    );
  if (existsSync(built) && existsSync(`${root}sdk/dist/clickstream.min.js`) && statSync(built).mtimeMs >= newestSource(`${root}sdk/src`)) return;
  execSync('npm run --silent build:sdk', { cwd: root, stdio: 'pipe' });
  if (!existsSync(built)) throw new Error(`npm run build:sdk did not produce ${built}`);
}
