import type { ObjectStore } from '../../processor/archive/object-store.js';

/** An object store in a Map (unit tests and benches without a disk or an S3 server); `create` as S3's If-None-Match: *. */
export class MemoryObjectStore implements ObjectStore {
  readonly description: string = 'memory';
  readonly objects = new Map<string, Uint8Array>();
  async put(key: string, body: Uint8Array) {
    this.objects.set(key, body);
  }
  async create(key: string, body: Uint8Array) {
    if (this.objects.has(key)) return false;
    this.objects.set(key, body);
    return true;
  }
  async get(key: string) {
    return this.objects.get(key) ?? null;
  }
  async list(prefix: string) {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
  async delete(key: string) {
    this.objects.delete(key);
  }
}
