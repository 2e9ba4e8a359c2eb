/**
 * A real S3-compatible server for the tests: MinIO, built from source with `go install` (Go is
 * on the machine; Docker is not), cached as .cache/minio/minio, started on loopback with a
 * temporary data directory and stopped after the tests. The first build takes minutes; later
 * runs start in about a second. MinIO is AGPL-3.0: it is only built and run locally for tests,
 * never shipped with the project.
 *
 *   const minio = await startMinio();   // { endpoint, accessKeyId, secretAccessKey, stop }
 *   await createBucket(minio, 'archive');
 *
 * MINIO_BIN points at an existing binary instead.
 */
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from '../infra/ports.js';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
export const MINIO_DIR = join(ROOT, '.cache', 'minio');
export const MINIO_BIN = process.env.MINIO_BIN || join(MINIO_DIR, 'minio');

/** Builds MinIO into .cache/minio unless it is there already; returns the binary's path. */
export async function ensureMinio(): Promise<string> {
  if (existsSync(MINIO_BIN)) return MINIO_BIN;
  mkdirSync(MINIO_DIR, { recursive: true });
  await promisify(execFile)('go', ['install', 'github.com/minio/minio@latest'], {
    env: { ...process.env, GOBIN: MINIO_DIR, CGO_ENABLED: '0' },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 30 * 60_000,
  });
  if (!existsSync(MINIO_BIN)) throw new Error(`go install did not produce ${MINIO_BIN}`);
  return MINIO_BIN;
}

export interface Minio {
  endpoint: string;
  port: number;
  dataDir: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Stops the server; `keepData` leaves its data directory for a restart on the same port. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/** Starts MinIO; with `port` and `dataDir` of a stopped one, restarts it with its data. */
export async function startMinio(again: { port?: number; dataDir?: string } = {}): Promise<Minio> {
  const bin = await ensureMinio();
  const [port, consolePort] = [again.port ?? (await freePort()), await freePort()];
  const dataDir = again.dataDir ?? mkdtempSync(join(tmpdir(), 'minio-'));
  const accessKeyId = 'clickstream-test';
  const secretAccessKey = 'clickstream-test-secret';
  const child = spawn(bin, ['server', dataDir, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'], {
    env: { ...process.env, MINIO_ROOT_USER: accessKeyId, MINIO_ROOT_PASSWORD: secretAccessKey, MINIO_BROWSER: 'off' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += String(d)));
  // Never outlive the tests (an interrupted run does not reach stop()).
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`minio exited (${child.exitCode}): ${stderr}`);
    try {
      const r = await fetch(`${endpoint}/minio/health/ready`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`minio not ready after 60 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    endpoint,
    port,
    dataDir,
    accessKeyId,
    secretAccessKey,
    region: 'us-east-1',
    async stop(opts = {}) {
      process.removeListener('exit', orphanGuard);
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function createBucket(m: Minio, bucket: string): Promise<void> {
  const s3 = new S3Client({ endpoint: m.endpoint, region: m.region, forcePathStyle: true, credentials: { accessKeyId: m.accessKeyId, secretAccessKey: m.secretAccessKey } });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    s3.destroy();
  }
}

// `tsx test/minio.ts` builds (if needed) and runs one until Ctrl-C, printing its settings.
if (import.meta.url === `file://${process.argv[1]}`) {
  const m = await startMinio();
  await createBucket(m, 'clickstream-archive');
  console.log(`S3_ENDPOINT=${m.endpoint} S3_ACCESS_KEY_ID=${m.accessKeyId} S3_SECRET_ACCESS_KEY=${m.secretAccessKey} S3_BUCKET=clickstream-archive ARCHIVE_BACKEND=s3`);
  process.on('SIGINT', () => void m.stop().then(() => process.exit(0)));
}
