/**
 * Makes the Kubernetes JSON schemas that kubeconform validates deploy/k8s against
 * (test/schemas/kubernetes/), from the "local-strict" schemas of the PyPI package
 * kubernetes-validate (Apache-2.0; generated from Kubernetes' OpenAPI, also Apache-2.0): each
 * kind's schema with the definitions it reaches inlined under `$defs` (so the file stands alone,
 * as kubeconform expects; the package's refs point at a shared `/api/_definitions.json`), and the
 * `description` texts dropped to keep the repository small. Run it only to add a kind or move to
 * a newer Kubernetes:
 *
 *   pip download --no-deps kubernetes-validate==1.37.0 -d /tmp/kv && unzip -q /tmp/kv/*.whl -d /tmp/kv
 *   npx tsx scripts/k8s-schemas.ts /tmp/kv/kubernetes_validate/kubernetes-json-schema/v1.32.0-local-strict
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The kinds deploy/k8s uses, as kubeconform names their schema files (`<kind>-<group>-<version>`). */
export const K8S_KINDS = [
  'configmap-v1',
  'deployment-apps-v1',
  'horizontalpodautoscaler-autoscaling-v2',
  'job-batch-v1',
  'namespace-v1',
  'poddisruptionbudget-policy-v1',
  'service-v1',
  'serviceaccount-v1',
];
export const K8S_SCHEMA_DIR = fileURLToPath(new URL('../test/schemas/kubernetes/v1.32.0-standalone-strict/', import.meta.url));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const REF = '/api/_definitions.json#/$defs/';
const LOCAL = '#/$defs/';

function standalone(kind: Json, defs: Record<string, Json>): Json {
  const reached: Record<string, Json> = {};
  const rewrite = (x: Json): Json => {
    if (Array.isArray(x)) return x.map(rewrite);
    if (!x || typeof x !== 'object') return x;
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(x)) {
      if (k === 'description' && typeof v === 'string') continue;
      if (k === '$id') continue;
      // Refs of the kind files name the shared file; refs inside it are local to it.
      const prefix = typeof v === 'string' ? [REF, LOCAL].find((p) => v.startsWith(p)) : undefined;
      if (k === '$ref' && typeof v === 'string' && prefix) {
        const name = v.slice(prefix.length);
        if (!(name in defs)) throw new Error(`unknown definition ${name}`);
        if (!(name in reached)) {
          reached[name] = {};
          reached[name] = rewrite(defs[name]);
        }
        out[k] = `#/$defs/${name}`;
        continue;
      }
      out[k] = rewrite(v);
    }
    return out;
  };
  const root = rewrite(kind) as Record<string, Json>;
  return { ...root, $defs: Object.fromEntries(Object.entries(reached).sort(([a], [b]) => a.localeCompare(b))) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const from = process.argv[2];
  if (!from) throw new Error('usage: tsx scripts/k8s-schemas.ts <kubernetes-validate>/kubernetes-json-schema/v1.32.0-local-strict');
  const defs = (JSON.parse(readFileSync(join(from, '_definitions.json'), 'utf8')) as { $defs: Record<string, Json> }).$defs;
  mkdirSync(K8S_SCHEMA_DIR, { recursive: true });
  for (const k of K8S_KINDS) {
    const out = standalone(JSON.parse(readFileSync(join(from, `${k}.json`), 'utf8')), defs);
    writeFileSync(join(K8S_SCHEMA_DIR, `${k}.json`), JSON.stringify(out) + '\n');
    console.log(`${basename(K8S_SCHEMA_DIR)}/${k}.json`);
  }
}
