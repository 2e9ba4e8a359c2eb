/**
 * deploy/k8s stays valid: each overlay rendered with kustomize and validated by kubeconform
 * (strict: unknown fields are errors) against the Kubernetes JSON schemas vendored in
 * test/schemas/kubernetes (no download at test time), then read for what the schemas cannot
 * say: roles, partitions, probes, selectors, settings and commands that exist in this project.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, test } from 'vitest';
import { SETTINGS } from '../../contracts/config.js';
import { K8S_KINDS } from '../../scripts/k8s-schemas.js';
import { ensureGoTool } from '../k8s-tools.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const SCHEMAS = `${root}test/schemas/kubernetes/v1.32.0-standalone-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json`;
const OVERLAYS = readdirSync(`${root}deploy/k8s/overlays`);
const buildEntries: string[] = JSON.parse(readFileSync(`${root}tsconfig.build.json`, 'utf8').replace(/^\s*\/\/.*$/gm, '')).files;
const SETTING_ENVS = new Set(Object.values(SETTINGS).map((s) => s.env));
/** Node's own variables the manifests may set beside the project's settings. */
const NODE_ENVS = new Set(['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS']);
const ROLES = SETTINGS.processorRoles.default.split(',');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;
let kustomize = '';
let kubeconform = '';
const rendered: Record<string, string> = {};

beforeAll(async () => {
  [kustomize, kubeconform] = await Promise.all([ensureGoTool('kustomize'), ensureGoTool('kubeconform')]);
  for (const o of OVERLAYS) rendered[o] = (await run(kustomize, ['build', `${root}deploy/k8s/overlays/${o}`])).stdout;
}, 20 * 60_000);


/** kubeconform reads stdin; promisify(execFile) hides the child, so it is spawned here. */
function kubeconformOn(yaml: string): Promise<{ summary: Obj; resources: Obj[] }> {
  return new Promise((resolvePromise, reject) => {
    const p = execFile(kubeconform, ['-strict', '-summary', '-output', 'json', '-schema-location', SCHEMAS, '-'], { maxBuffer: 16 * 1024 * 1024 }, (_err, stdout) => {
      try {
        resolvePromise(JSON.parse(stdout));
      } catch (e) {
        reject(e);
      }
    });
    p.stdin!.end(yaml);
  });
}

const objects = (overlay: string): Obj[] => parseAllDocuments(rendered[overlay]).map((d) => d.toJS());
const ofKind = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
const podSpec = (o: Obj): Obj => o.spec.template.spec;
const envOf = (c: Obj): Record<string, string> => Object.fromEntries((c.env ?? []).map((e: Obj) => [e.name, e.value]));

test('there are overlays, and every kind they use has a vendored schema', () => {
  expect(OVERLAYS.sort()).toEqual(['dev', 'production']);
  for (const o of OVERLAYS) {
    for (const obj of objects(o)) {
      const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
      expect(K8S_KINDS, `${o}: ${obj.kind}`).toContain(`${obj.kind.toLowerCase()}${group ? `-${group.split('.')[0]}` : ''}-${version}`);
    }
  }
});

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  test('kubeconform: every object valid against its Kubernetes schema', async () => {
    const out = await kubeconformOn(rendered[overlay]);
    expect(out.resources.filter((r) => r.status !== 'statusValid')).toEqual([]);
    expect(out.summary).toMatchObject({ invalid: 0, errors: 0, skipped: 0 });
    expect(out.summary.valid).toBe(objects(overlay).length);
  });

  test('one processor Deployment per role, none with more replicas than partitions', () => {
    const objs = objects(overlay);
    const partitions = Number(ofKind(objs, 'ConfigMap').find((c) => c.metadata.name === 'clickstream-config')!.data.TOPIC_PARTITIONS);
    expect(partitions).toBeGreaterThan(0);
    const processors = ofKind(objs, 'Deployment').filter((d) => podSpec(d).containers[0].command.join(' ') === 'node dist/processor/main.js');
    expect(processors.map((d) => envOf(podSpec(d).containers[0]).PROCESSOR_ROLES).sort()).toEqual([...ROLES].sort());
    for (const d of processors) {
      expect(d.spec.replicas, d.metadata.name).toBeLessThanOrEqual(partitions);
      expect(d.spec.strategy.rollingUpdate.maxSurge, d.metadata.name).toBe(0);
      expect(podSpec(d).containers[0].readinessProbe.httpGet.path).toBe('/readyz');
    }
  });

  test('the gateway: HPA on CPU, a PodDisruptionBudget, readiness on /readyz, a CPU request', () => {
    const objs = objects(overlay);
    const gw = ofKind(objs, 'Deployment').find((d) => d.metadata.name === 'clickstream-gateway')!;
    const c = podSpec(gw).containers[0];
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.resources.requests.cpu).toBeDefined();
    const hpa = ofKind(objs, 'HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === gw.metadata.name)!;
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
    expect(ofKind(objs, 'PodDisruptionBudget').some((p) => p.metadata.name === gw.metadata.name)).toBe(true);
  });

  test('every selector (Deployments, Services, PDBs) matches a pod template', () => {
    const objs = objects(overlay);
    const templates = [...ofKind(objs, 'Deployment'), ...ofKind(objs, 'Job')].map((d) => d.spec.template.metadata.labels as Record<string, string>);
    const matches = (sel: Record<string, string>) => templates.some((l) => Object.entries(sel).every(([k, v]) => l[k] === v));
    for (const d of ofKind(objs, 'Deployment')) expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
    for (const s of ofKind(objs, 'Service')) expect(matches(s.spec.selector), s.metadata.name).toBe(true);
    for (const p of ofKind(objs, 'PodDisruptionBudget')) expect(matches(p.spec.selector.matchLabels), p.metadata.name).toBe(true);
  });

  test('containers run compiled entry points as non-root, with settings this project has', () => {
    const objs = objects(overlay);
    const workloads = [...ofKind(objs, 'Deployment'), ...ofKind(objs, 'Job')];
    expect(ofKind(objs, 'Job').map((j) => podSpec(j).containers[0].command)).toEqual([['node', 'dist/infra/cli.js', 'setup']]);
    for (const w of workloads) {
      const spec = podSpec(w);
      expect(spec.securityContext.runAsNonRoot, w.metadata.name).toBe(true);
      for (const c of spec.containers) {
        expect(c.command[0]).toBe('node');
        expect(buildEntries).toContain(c.command[1].replace(/^dist\//, '').replace(/\.js$/, '.ts'));
        for (const name of Object.keys(envOf(c))) expect(SETTING_ENVS.has(name) || NODE_ENVS.has(name), `${w.metadata.name}: ${name}`).toBe(true);
      }
    }
    for (const cm of ofKind(objs, 'ConfigMap')) {
      for (const name of Object.keys(cm.data)) expect(SETTING_ENVS.has(name) || NODE_ENVS.has(name), `ConfigMap ${name}`).toBe(true);
    }
  });
});

test('kubeconform refuses what Kubernetes refuses', async () => {
  const bad = rendered.dev.replace(/^(\s+)replicas: 1$/m, '$1replicaz: 1').replace('containerPort: 8080', 'containerPort: "http"');
  const out = await kubeconformOn(bad);
  expect(out.summary.invalid).toBeGreaterThanOrEqual(1);
  const unknownKind = await kubeconformOn('apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n');
  expect(unknownKind.summary.errors).toBe(1);
});
