import { existsSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../common/project-root.js';

/** The repository root (the folder holding package.json), whatever the current directory is. */
export const PROJECT_ROOT = projectRoot();

/** Downloaded jars and the unpacked Elasticsearch distribution; gitignored, kept between runs. */
export const CACHE_DIR = path.join(PROJECT_ROOT, '.cache');

/** Maven's local repository, project-local so a fresh machine needs nothing in ~/.m2. */
export const MAVEN_REPO = path.join(CACHE_DIR, 'm2');

/** A DATA_DIR given as a relative path is taken from the project root, not the current directory. */
export function resolveDataDir(dir: string): string {
  return path.isAbsolute(dir) ? dir : path.join(PROJECT_ROOT, dir);
}

export function requireFile(file: string, what: string): string {
  if (!existsSync(file)) throw new Error(`${what} not found at ${file}`);
  return file;
}
