/**
 * Where archive objects go. Two implementations behind one small interface: a local directory
 * (the embedded default) and any S3-compatible store through @aws-sdk/client-s3 (AWS, MinIO,
 * Ceph, R2 ...). A `put` is all-or-nothing in both: S3 never shows half an object, and the
 * local store writes a temporary file, fsyncs it and renames it into place.
 */
import { link, mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../../contracts/config.js';

export interface ObjectStore {
  readonly description: string;
  put(key: string, body: Uint8Array, contentType?: string): Promise<void>;
  /**
   * Creates the object only if no object has the key (S3 `If-None-Match: *`): of writers racing
   * for one key exactly one gets true and the others false, so they can adopt what it wrote.
   */
  create(key: string, body: Uint8Array, contentType?: string): Promise<boolean>;
  /** The object's bytes, or null when there is no such key. */
  get(key: string): Promise<Uint8Array | null>;
  /** Every key starting with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
}

export class LocalObjectStore implements ObjectStore {
  constructor(readonly root: string) {}
  get description() {
    return `local directory ${this.root}`;
  }
  private path(key: string): string {
    if (key.split('/').some((p) => p === '..' || p === '')) throw new Error(`bad object key ${key}`);
    return join(this.root, ...key.split('/'));
  }
  /** Writes and fsyncs a temporary file beside the key's path; returns both paths. */
  private async staged(key: string, body: Uint8Array): Promise<{ path: string; tmp: string }> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}-${++this.seq}`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(body);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return { path, tmp };
  }
  private seq = 0;
  async put(key: string, body: Uint8Array): Promise<void> {
    const { path, tmp } = await this.staged(key, body);
    await rename(tmp, path);
  }
  async create(key: string, body: Uint8Array): Promise<boolean> {
    const { path, tmp } = await this.staged(key, body);
    // link(2) fails with EEXIST when the path exists, atomically (rename would replace it).
    try {
      await link(tmp, path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await rm(tmp, { force: true });
    }
  }
  async get(key: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.path(key)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }
  async list(prefix: string): Promise<string[]> {
    // Walk the deepest directory the prefix names, then filter.
    const slash = prefix.lastIndexOf('/');
    const dir = slash >= 0 ? join(this.root, ...prefix.slice(0, slash).split('/').filter(Boolean)) : this.root;
    const out: string[] = [];
    const walk = async (d: string) => {
      let entries;
      try {
        entries = await readdir(d, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (!e.name.includes('.tmp-')) {
          const key = relative(this.root, p).split(sep).join('/');
          if (key.startsWith(prefix)) out.push(key);
        }
      }
    };
    await walk(dir);
    return out.sort();
  }
  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}

export interface S3StoreOptions {
  endpoint?: string;
  bucket: string;
  prefix?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
}

export class S3ObjectStore implements ObjectStore {
  readonly client: S3Client;
  private readonly prefix: string;
  constructor(private readonly o: S3StoreOptions) {
    this.prefix = o.prefix ?? '';
    this.client = new S3Client({
      region: o.region,
      endpoint: o.endpoint || undefined,
      forcePathStyle: o.forcePathStyle,
      credentials: o.accessKeyId ? { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey ?? '' } : undefined,
      maxAttempts: 3,
    });
  }
  get description() {
    return `s3://${this.o.bucket}/${this.prefix}${this.o.endpoint ? ` at ${this.o.endpoint}` : ''}`;
  }
  async put(key: string, body: Uint8Array, contentType = 'application/octet-stream'): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: this.prefix + key, Body: body, ContentType: contentType }));
  }
  async create(key: string, body: Uint8Array, contentType = 'application/octet-stream'): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: this.prefix + key, Body: body, ContentType: contentType, IfNoneMatch: '*' }));
        return true;
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 412) return false;
        // 409 ConditionalRequestConflict: a concurrent conditional write to the key; AWS says retry.
        if (status !== 409 || attempt >= 5) throw err;
      }
    }
  }
  async get(key: string): Promise<Uint8Array | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: this.prefix + key }));
      return r.Body ? await r.Body.transformToByteArray() : new Uint8Array();
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey' || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return null;
      throw err;
    }
  }
  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.o.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }));
      for (const c of r.Contents ?? []) if (c.Key) out.push(c.Key.slice(this.prefix.length));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }
  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: this.prefix + key }));
  }
}

/** The archive store the config asks for, or null for ARCHIVE_BACKEND=none. */
export function objectStoreFromConfig(
  c: Pick<Config, 'archiveBackend' | 'archiveDir' | 's3Endpoint' | 's3Bucket' | 's3Prefix' | 's3Region' | 's3AccessKeyId' | 's3SecretAccessKey' | 's3ForcePathStyle'>,
): ObjectStore | null {
  switch (c.archiveBackend) {
    case 'none':
      return null;
    case 'local':
      return new LocalObjectStore(c.archiveDir);
    case 's3':
      return new S3ObjectStore({
        endpoint: c.s3Endpoint,
        bucket: c.s3Bucket,
        prefix: c.s3Prefix,
        region: c.s3Region,
        accessKeyId: c.s3AccessKeyId,
        secretAccessKey: c.s3SecretAccessKey,
        forcePathStyle: c.s3ForcePathStyle,
      });
    default:
      throw new Error(`ARCHIVE_BACKEND must be local, s3 or none, got "${c.archiveBackend}"`);
  }
}
