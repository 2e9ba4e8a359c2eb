import { spawn } from 'node:child_process';
import { MAVEN_REPO, PROJECT_ROOT } from './paths.js';

/** The one version of maven-dependency-plugin used, so a fresh machine resolves the same goals. */
export const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.6.1';

/**
 * Runs Maven in batch mode against the project-local repository (.cache/m2) and resolves when it
 * succeeds; a failure carries the end of Maven's output.
 */
export function runMaven(args: string[], cwd = PROJECT_ROOT): Promise<void> {
  const fullArgs = ['-B', '-q', '-ntp', `-Dmaven.repo.local=${MAVEN_REPO}`, ...args];
  return new Promise((resolve, reject) => {
    let output = '';
    const child = spawn('mvn', fullArgs, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new Error('Maven (mvn) is needed to fetch Kafka and Elasticsearch from Maven Central; install it (Debian: apt-get install maven)')
          : err,
      );
    });
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`mvn ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output.trim()}`));
    });
  });
}
