import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CACHE_DIR, PROJECT_ROOT } from './paths.js';
import { DEPENDENCY_PLUGIN, runMaven } from './maven.js';

/**
 * Fetching the two JVM services from Maven Central, once per version:
 * - Kafka: the jars of org.apache.kafka:kafka_2.13 resolved by infra/maven/kafka-pom.xml; the
 *   resulting classpath is cached in .cache/kafka-<version>.classpath, so a warm start never runs Maven.
 * - Elasticsearch: org.elasticsearch.distribution.integ-test-zip:elasticsearch (the real distribution
 *   Elastic's own integration tests run), unpacked into .cache/elasticsearch-<version>.
 * Both are written under a temporary name and renamed into place, so two runs fetching at the same
 * time, or a run interrupted half-way, never leave a half-made copy behind.
 */

export interface KafkaDist {
  version: string;
  classpath: string[];
}

export interface ElasticsearchDist {
  version: string;
  home: string;
}

const tmpSuffix = () => `.tmp-${process.pid}-${Date.now()}`;

function cachedClasspath(file: string): string[] | null {
  if (!existsSync(file)) return null;
  const jars = readFileSync(file, 'utf8').trim().split(path.delimiter).filter(Boolean);
  return jars.length > 0 && jars.every((jar) => existsSync(jar)) ? jars : null;
}

export async function fetchKafka(version: string): Promise<KafkaDist> {
  const classpath = await mavenClasspath(path.join(PROJECT_ROOT, 'infra', 'maven', 'kafka-pom.xml'), version, `kafka-${version}`, `kafka_2.13-${version}.jar`);
  return { version, classpath };
}

/**
 * The runtime classpath Maven resolves for `pom` at this Kafka version, cached in
 * .cache/<name>.classpath (a warm call never runs Maven); `mainJar` must be on it.
 */
export async function mavenClasspath(pom: string, version: string, name: string, mainJar: string): Promise<string[]> {
  const file = path.join(CACHE_DIR, `${name}.classpath`);
  const cached = cachedClasspath(file);
  if (cached) return cached;

  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = file + tmpSuffix();
  try {
    await runMaven(['-f', pom, `-Dkafka.version=${version}`, `${DEPENDENCY_PLUGIN}:build-classpath`, `-Dmdep.outputFile=${tmp}`, '-Dmdep.includeScope=runtime']);
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
  const jars = cachedClasspath(file);
  if (!jars?.some((jar) => path.basename(jar) === mainJar)) throw new Error(`Maven resolved no ${mainJar} (classpath in ${file})`);
  return jars;
}

export async function fetchElasticsearch(version: string): Promise<ElasticsearchDist> {
  const home = path.join(CACHE_DIR, `elasticsearch-${version}`);
  const marker = path.join(home, '.fetched');
  if (existsSync(marker)) return { version, home };

  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = home + tmpSuffix();
  try {
    mkdirSync(tmp, { recursive: true });
    // Run outside any project (cwd = tmp) and keep the plugin's marker files in tmp too: without a
    // pom, Maven would otherwise create a literal "${project.basedir}/target" folder in the cwd.
    await runMaven(
      [
        `${DEPENDENCY_PLUGIN}:unpack`,
        `-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:${version}:zip`,
        `-DoutputDirectory=${tmp}`,
        `-DmarkersDirectory=${path.join(tmp, '.markers')}`,
      ],
      tmp,
    );
    const unpacked = path.join(tmp, `elasticsearch-${version}`);
    if (!existsSync(path.join(unpacked, 'lib', 'cli-launcher'))) {
      throw new Error(`the Elasticsearch ${version} archive has no lib/cli-launcher (unpacked in ${tmp})`);
    }
    writeFileSync(path.join(unpacked, '.fetched'), `${new Date().toISOString()}\n`);
    // Another run may have finished the same fetch meanwhile: its copy is as good as ours (and may be in use).
    if (!existsSync(marker)) {
      rmSync(home, { recursive: true, force: true });
      try {
        renameSync(unpacked, home);
      } catch (err) {
        if (!existsSync(marker)) throw err;
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { version, home };
}

/** Fetches both (in parallel) and reports how long it took; a no-op when both are cached. */
export async function fetchAll(
  versions: { kafka: string; elasticsearch: string },
  log: (msg: string) => void = () => {},
): Promise<{ kafka: KafkaDist; elasticsearch: ElasticsearchDist }> {
  const t0 = Date.now();
  const [kafka, elasticsearch] = await Promise.all([fetchKafka(versions.kafka), fetchElasticsearch(versions.elasticsearch)]);
  const ms = Date.now() - t0;
  if (ms > 500) log(`fetched Kafka ${versions.kafka} and Elasticsearch ${versions.elasticsearch} in ${(ms / 1000).toFixed(1)} s`);
  return { kafka, elasticsearch };
}
