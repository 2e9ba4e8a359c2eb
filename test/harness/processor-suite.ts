/**
 * What the processor's integration files (processor/processor*.integration.test.ts) share: a MinIO
 * with one bucket for the archive, an Elasticsearch client, and the processors they spawn (SIGKILLed
 * after the file). Each file calls `processorSuite()` once at its top: its hooks start and stop its
 * own MinIO, so the files share nothing and run side by side.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, inject } from 'vitest';
import type { Client } from '@elastic/elasticsearch';
import type { Config } from '../../contracts/config.js';
import { esFromConfig } from '../../common/es-client.js';
import { S3ObjectStore, type ObjectStore } from '../../processor/archive/object-store.js';
import { createBucket, startMinio, type Minio } from '../minio.js';
import { killHard } from './it-harness.js';

// The AWS SDK's notice about Node versions of its future releases is noise in these tests.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export function processorSuite(bucket = 'archive-it') {
  const brokers = inject('kafkaBrokers');
  const esUrl = inject('esUrl');
  let minio: Minio;
  let es: Client;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    minio = await startMinio();
    await createBucket(minio, bucket);
    es = esFromConfig({ esUrl, esUsername: '', esPassword: '', esApiKey: '' });
  }, 1_800_000);

  afterAll(async () => {
    for (const c of children) await killHard(c);
    await es?.close();
    await minio?.stop();
  });

  /** Archive settings for this file's MinIO, under `prefix/` of its bucket. */
  function s3Config(prefix: string): Partial<Config> {
    return {
      archiveBackend: 's3',
      s3Endpoint: minio.endpoint,
      s3Bucket: bucket,
      s3Prefix: `${prefix}/`,
      s3AccessKeyId: minio.accessKeyId,
      s3SecretAccessKey: minio.secretAccessKey,
      s3ForcePathStyle: true,
    };
  }

  function storeFor(cfg: Partial<Config>): ObjectStore {
    return new S3ObjectStore({
      endpoint: cfg.s3Endpoint,
      bucket: cfg.s3Bucket!,
      prefix: cfg.s3Prefix,
      region: 'us-east-1',
      accessKeyId: cfg.s3AccessKeyId,
      secretAccessKey: cfg.s3SecretAccessKey,
      forcePathStyle: true,
    });
  }

  return {
    brokers,
    esUrl,
    /** Set once the hooks ran. */
    get es() {
      return es;
    },
    children,
    s3Config,
    storeFor,
  };
}
