import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';

export interface JavaRuntime {
  /** The `java` executable. */
  bin: string;
  /** Its JAVA_HOME (the folder holding bin/java). */
  home: string;
  /** Feature release: 17, 21 ... */
  feature: number;
}

let cached: JavaRuntime | undefined;

/**
 * The Java runtime the services run on: $JAVA_HOME if set, else the `java` on the PATH.
 * Kafka 3.9 and Elasticsearch 8 both run on Java 17 or later.
 */
export function findJava(): JavaRuntime {
  if (cached) return cached;
  let bin: string | undefined;
  const fromHome = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : undefined;
  if (fromHome && existsSync(fromHome)) bin = fromHome;
  else {
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      if (dir && existsSync(path.join(dir, 'java'))) {
        bin = path.join(dir, 'java');
        break;
      }
    }
  }
  if (!bin) throw new Error('Java 17 or later is needed to run Kafka and Elasticsearch: set JAVA_HOME or put java on the PATH');
  bin = realpathSync(bin);
  // Prints e.g. `openjdk version "17.0.15" 2025-04-15` on stderr.
  const r = spawnSync(bin, ['-version'], { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) throw new Error(`cannot tell the version of ${bin}: ${text.trim() || r.error?.message}`);
  const feature = m[1] === '1' ? Number(m[2]) : Number(m[1]);
  if (feature < 17) throw new Error(`Kafka and Elasticsearch need Java 17 or later; ${bin} is Java ${feature}`);
  cached = { bin, home: path.dirname(path.dirname(bin)), feature };
  return cached;
}
