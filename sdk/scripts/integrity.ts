/**
 * Prints, after `npm run build:sdk`, each script-tag build's versioned path and Subresource
 * Integrity hash (the same values the gateway serves and lists at /sdk/manifest.json), and the
 * script tag to paste. Exits 1 when a build is missing.
 *
 *   tsx sdk/scripts/integrity.ts [dir]      (default: sdk/dist)
 */
import { defaultSdkDir, loadSdkAssets } from '../../common/sdk-assets.js';

const dir = process.argv[2] || defaultSdkDir();
const { assets, missing } = loadSdkAssets(dir);
if (missing.length) {
  console.error(`✗ not built in ${dir}: ${missing.join(', ')}`);
  process.exit(1);
}
console.log('script-tag builds (served by the gateway at these paths; integrity for <script integrity>):');
for (const a of assets) console.log(`  ${a.versionedPath.padEnd(48)} ${a.integrity}`);
const core = assets[0];
console.log(`<script async src="${core.versionedPath}" integrity="${core.integrity}" crossorigin="anonymous"></script>`);
