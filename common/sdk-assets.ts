import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './project-root.js';

/**
 * The SDK's script-tag builds as the gateway serves them, and the two facts derived from their
 * bytes: the content hash in the versioned path and the Subresource Integrity value. Defined
 * here once so the build's printout (sdk/scripts/integrity.ts) and the gateway always agree.
 */

/** The files rollup writes for `<script>` use (sdk/rollup.config.mjs). */
export const SDK_SCRIPTS = ['clickstream.min.js', 'clickstream.full.min.js'] as const;
export type SdkScriptName = (typeof SDK_SCRIPTS)[number];

export interface SdkAsset {
  name: SdkScriptName;
  body: Buffer;
  /** First 16 hex digits of the SHA-256 of the bytes: the version segment of the immutable path. */
  hash: string;
  /** `sha384-<base64>` for the script tag's integrity attribute. */
  integrity: string;
  /** `/sdk/<hash>/<name>`: served with a one-year immutable cache. */
  versionedPath: string;
  /** `/sdk/<name>`: the stable alias, short-cached. */
  aliasPath: string;
}

export function sdkAsset(name: SdkScriptName, body: Buffer): SdkAsset {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  const integrity = `sha384-${createHash('sha384').update(body).digest('base64')}`;
  return { name, body, hash, integrity, versionedPath: `/sdk/${hash}/${name}`, aliasPath: `/sdk/${name}` };
}

/** The built scripts found in `dir`; the names of those missing are returned beside them. */
export function loadSdkAssets(dir: string): { assets: SdkAsset[]; missing: SdkScriptName[] } {
  const assets: SdkAsset[] = [];
  const missing: SdkScriptName[] = [];
  for (const name of SDK_SCRIPTS) {
    const file = join(dir, name);
    if (existsSync(file)) assets.push(sdkAsset(name, readFileSync(file)));
    else missing.push(name);
  }
  return { assets, missing };
}

/** sdk/dist of this installation (where `npm run build:sdk` writes and the image copies it). */
export function defaultSdkDir(): string {
  return join(projectRoot(), 'sdk', 'dist');
}
