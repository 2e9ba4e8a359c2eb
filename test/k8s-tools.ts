/**
 * kustomize and kubeconform for the manifest tests, built with `go install` (Go is on the
 * machine; their release downloads are not reachable here) at pinned versions into
 * .cache/k8s-tools/<tool>-<version>/, once; later runs find them there. The first build takes
 * a minute or two, later runs none.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(new URL('..', import.meta.url).pathname);

export const K8S_TOOLS = {
  kustomize: { module: 'sigs.k8s.io/kustomize/kustomize/v5', version: 'v5.7.1' },
  kubeconform: { module: 'github.com/yannh/kubeconform/cmd/kubeconform', version: 'v0.8.0' },
} as const;

/** The tool's binary, built first if missing. */
export async function ensureGoTool(name: keyof typeof K8S_TOOLS): Promise<string> {
  const { module, version } = K8S_TOOLS[name];
  const dir = join(ROOT, '.cache', 'k8s-tools', `${name}-${version}`);
  const bin = join(dir, name);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  try {
    await promisify(execFile)('go', ['install', `${module}@${version}`], {
      // GOTOOLCHAIN=local: never fetch another Go toolchain (not reachable here); the versions are
      // pinned to ones that build with the machine's Go.
      env: { ...process.env, GOBIN: dir, CGO_ENABLED: '0', GOTOOLCHAIN: 'local' },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 15 * 60_000,
    });
  } catch (err) {
    throw new Error(`go install ${module}@${version} failed (is Go installed?): ${(err as Error).message}`, { cause: err });
  }
  if (!existsSync(bin)) throw new Error(`go install did not produce ${bin}`);
  return bin;
}
