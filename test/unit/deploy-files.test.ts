/**
 * The deployment files stay runnable: infra/docker-compose.yml against the Compose
 * Specification's JSON schema (vendored in test/schemas/compose-spec with its licence), and the
 * Dockerfile read for what the image must do (Node 24, build the SDK and the services, run
 * compiled JavaScript as a non-root user). Docker does not run here; the compiled services are
 * started for real in test/integration/compiled-services.integration.test.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, test } from 'vitest';
import { SDK_SCRIPTS } from '../../common/sdk-assets.js';
import { SETTINGS } from '../../contracts/config.js';
import { PROCESSOR_NODE_FLAGS } from '../../processor/node-flags.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (p: string) => readFileSync(`${root}${p}`, 'utf8');

const composeSchema = (() => {
  const schema = JSON.parse(read('test/schemas/compose-spec/compose-spec.json'));
  // Its $schema URL (https, no '#') is not the one ajv registers draft-07 under; the dialect is draft-07 anyway.
  delete schema.$schema;
  return new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
})();

type Service = { image?: string; build?: unknown; command?: string[]; environment?: Record<string, string>; deploy?: { replicas?: number } };
type ComposeFile = { services: Record<string, Service> };
const compose = (): ComposeFile => parse(read('infra/docker-compose.yml'), { merge: true });
const buildEntries: string[] = JSON.parse(read('tsconfig.build.json').replace(/^\s*\/\/.*$/gm, '')).files;

describe('infra/docker-compose.yml', () => {
  test('is valid against the Compose Specification', () => {
    const ok = composeSchema(compose());
    expect(composeSchema.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  test('the validator refuses what Compose refuses', () => {
    const bad = compose();
    (bad.services.gateway as Record<string, unknown>).comand = ['node'];
    expect(composeSchema(bad)).toBe(false);
    const badDeps = compose();
    (badDeps.services.gateway as Record<string, unknown>).depends_on = { setup: { condition: 'service_finished' } };
    expect(composeSchema(badDeps)).toBe(false);
  });

  test('the pipeline services run compiled JavaScript of the one image, and each file is a build entry point', () => {
    const app = Object.entries(compose().services).filter(([, s]) => s.build !== undefined);
    expect(app.map(([n]) => n).sort()).toEqual(['dashboard', 'gateway', 'kibana-setup', 'processor', 'setup']);
    for (const [name, s] of app) {
      expect(s.image, name).toBe('clickstream:local');
      expect(s.command?.[0], name).toBe('node');
      const js = s.command![1];
      expect(js, name).toMatch(/^dist\/.+\.js$/);
      expect(buildEntries, name).toContain(js.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
    }
  });

  test('processor replicas never exceed the partitions they share', () => {
    const c = compose();
    const partitions = Number(c.services.processor.environment?.TOPIC_PARTITIONS ?? SETTINGS.topicPartitions.default);
    expect(c.services.processor.deploy?.replicas ?? 1).toBeLessThanOrEqual(partitions);
  });
});

/** Top-level folders reached from `entry` through relative imports (what the image's build stage must copy). */
function foldersImported(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...entries];
  while (todo.length) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const m of read(file).matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)) {
      const next = new URL(`${m[1]}.ts`, `file:///${file}`).pathname.slice(1);
      if (existsSync(`${root}${next}`)) todo.push(next);
    }
  }
  return new Set([...seen].map((f) => f.split('/')[0]));
}

describe('Dockerfile', () => {
  const docker = read('Dockerfile');
  const lines = docker.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const stages = docker.split(/^FROM /m).slice(1);
  const final = stages.at(-1)!;

  test('every stage is Node 24 on Debian bookworm slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.split('\n')[0]).toMatch(/^node:24-bookworm-slim\b/);
  });

  test('the build stage copies every folder the services import, and builds the SDK and the services', () => {
    const build = stages[0];
    const copied = new Set([...build.matchAll(/^COPY (?!--)(.+) \S+$/gm)].flatMap((m) => m[1].split(' ')));
    const folders = foldersImported(buildEntries);
    expect([...folders]).toEqual(expect.arrayContaining(['contracts', 'common', 'gateway', 'processor', 'dashboard', 'infra', 'scripts']));
    for (const folder of folders) expect(copied, folder).toContain(folder);
    for (const f of ['sdk', 'tsconfig.json', 'tsconfig.build.json']) expect(copied).toContain(f);
    expect(build).toMatch(/npm run build:sdk && npm run build/);
  });

  test('files copied from the build context exist', () => {
    for (const l of lines.filter((x) => /^COPY (?!--from)/.test(x))) {
      for (const src of l.replace(/^COPY (--\S+ )*/, '').split(' ').slice(0, -1)) expect(existsSync(`${root}${src}`), l).toBe(true);
    }
  });

  test('the image runs compiled JavaScript with node as a non-root user, SDK scripts included, dev dependencies left out', () => {
    const depsStage = final.match(/^COPY --from=(\S+) \/app\/node_modules/m)![1];
    expect(stages.find((st) => st.split('\n')[0].endsWith(` AS ${depsStage}`))).toMatch(/npm ci --omit=dev/);
    expect(final).not.toMatch(/tsx/);
    const cmd = JSON.parse(final.match(/^CMD (.+)$/m)![1]);
    expect(cmd[0]).toBe('node');
    expect(buildEntries).toContain(cmd[1].replace(/^dist\//, '').replace(/\.js$/, '.ts'));
    const user = final.match(/^USER (\S+)$/m)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    for (const s of SDK_SCRIPTS) expect(final).toContain(`/app/sdk/dist/${s}`);
    expect(final).toMatch(/COPY --from=build \/app\/dist \.\/dist/);
  });
});

describe('the processor\'s Node flags (processor/node-flags.ts)', () => {
  test('npm run processor, Compose and every Kubernetes processor Deployment run it with them', () => {
    const flags = PROCESSOR_NODE_FLAGS.join(' ');
    expect(JSON.parse(read('package.json')).scripts.processor).toContain(`node ${flags} --import tsx processor/main.ts`);
    expect(compose().services.processor.environment?.NODE_OPTIONS).toBe(flags);
    const deployments = read('deploy/k8s/base/processor.yaml')
      .split(/^---$/m)
      .map((d) => parse(d) as { kind?: string; spec?: { template: { spec: { containers: { env?: { name: string; value: string }[] }[] } } } } | null)
      .filter((d) => d?.kind === 'Deployment');
    expect(deployments.length).toBe(3);
    for (const d of deployments) expect(d!.spec!.template.spec.containers[0].env?.find((e) => e.name === 'NODE_OPTIONS')?.value).toBe(flags);
  });
});
