/**
 * Two owners of one partition racing for a chunk boundary against a real S3-compatible server:
 * the conditional create of the manifest (If-None-Match: *) is what keeps the archive
 * exactly-once, so it is checked where S3 answers it, not only on the local directory store.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createBucket, startMinio, type Minio } from '../../test/minio.js';
import { expectEachOffsetOnce, OWNER_RACES, twoOwnersOfOnePartition } from '../../test/harness/archive-owners.js';
import { S3ObjectStore } from './object-store.js';

let minio: Minio;
beforeAll(async () => {
  minio = await startMinio();
  await createBucket(minio, 'two-owners');
}, 600_000);
afterAll(async () => {
  await minio?.stop();
});

const s3 = (prefix: string) =>
  new S3ObjectStore({ endpoint: minio.endpoint, bucket: 'two-owners', prefix, region: minio.region, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey, forcePathStyle: true });

test('the store creates a key once: of concurrent creates exactly one wins, and its bytes stay', async () => {
  const s = s3('create/');
  const enc = new TextEncoder();
  const won = await Promise.all(Array.from({ length: 8 }, (_, i) => s.create('k', enc.encode(String(i)))));
  expect(won.filter(Boolean)).toHaveLength(1);
  expect(new TextDecoder().decode((await s.get('k'))!)).toBe(String(won.indexOf(true)));
  expect(await s.create('k', enc.encode('again'))).toBe(false);
});

test.each(OWNER_RACES)('%s cuts first (A at %i, B at %i): every offset is in exactly one object, none lost', async (first, aCut, bCut) => {
  const s = s3(`race-${first}-${aCut}-${bCut}/`);
  expectEachOffsetOnce(await twoOwnersOfOnePartition(s, { aCut, bCut, total: 120, first }), 120);
}, 60_000);
