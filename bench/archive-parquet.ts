/**
 * How fast the archive encodes enriched events to Parquet (Snappy), with the archive's own
 * schema (every ENRICHED_FIELDS column + partition and offset), on generated events.
 *
 *   npx tsx bench/archive-parquet.ts [rows]
 *
 * Prints rows/s and bytes/row for hyparquet-writer (what processor/archive/parquet.ts uses).
 * With PARQUETJS_LITE=<path to a parquetjs-lite install> it measures parquetjs-lite (the design
 * card's choice, unmaintained since 2020) on the same rows in the same run, for the comparison
 * the README quotes; parquetjs-lite is not a dependency of the project.
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENRICHED_FIELDS } from '../contracts/event-schema.js';
import { encodeParquet } from '../processor/archive/parquet.js';
import { generateTraffic } from '../test/harness/traffic.js';

const rows = Number(process.argv[2] ?? 100_000);
const events = generateTraffic({ seed: 1, visitors: Math.ceil(rows / 8), startMs: Date.UTC(2026, 10, 22), spanMs: 3_600_000 })
  .slice(0, rows)
  .map((g, i) => ({ event: { ...g.event, browser: 'Chrome', os: 'Windows', ip: '203.0.113.0', city: 'Paris', title: 'Product page' }, partition: 0, offset: BigInt(i) }));

function time<T>(f: () => T): [T, number] {
  const t = performance.now();
  const r = f();
  return [r, (performance.now() - t) / 1000];
}

encodeParquet(events.slice(0, 2000)); // warm up
const [file, s] = time(() => encodeParquet(events));
console.log(`hyparquet-writer: ${events.length} rows in ${s.toFixed(2)} s = ${Math.round(events.length / s).toLocaleString()} rows/s, ${(file.byteLength / events.length).toFixed(1)} bytes/row (Snappy), JSON ${(JSON.stringify(events[0].event).length).toFixed(0)} bytes/row`);

if (process.env.PARQUETJS_LITE) {
  const require = createRequire(join(process.env.PARQUETJS_LITE, 'package.json'));
  const parquet = require('parquetjs-lite');
  const T: Record<string, object> = {
    keyword: { type: 'UTF8', optional: true, compression: 'SNAPPY' },
    text: { type: 'UTF8', optional: true, compression: 'SNAPPY' },
    geo_point: { type: 'UTF8', optional: true, compression: 'SNAPPY' },
    date: { type: 'TIMESTAMP_MILLIS', optional: true, compression: 'SNAPPY' },
    long: { type: 'INT64', optional: true, compression: 'SNAPPY' },
    double: { type: 'DOUBLE', optional: true, compression: 'SNAPPY' },
    boolean: { type: 'BOOLEAN', optional: true, compression: 'SNAPPY' },
    json: { type: 'JSON', optional: true, compression: 'SNAPPY' },
  };
  const schema = new parquet.ParquetSchema(Object.fromEntries(Object.entries(ENRICHED_FIELDS).map(([k, kind]) => [k, T[kind]])));
  const dir = mkdtempSync(join(tmpdir(), 'pqlite-'));
  const path = join(dir, 'x.parquet');
  const t = performance.now();
  const w = await parquet.ParquetWriter.openFile(schema, path);
  for (const { event } of events) {
    const row: Record<string, unknown> = {};
    for (const [k, kind] of Object.entries(ENRICHED_FIELDS)) {
      const v = (event as unknown as Record<string, unknown>)[k];
      if (v === null || v === undefined) continue;
      row[k] = kind === 'date' ? new Date(v as string) : v;
    }
    await w.appendRow(row);
  }
  await w.close();
  const s2 = (performance.now() - t) / 1000;
  console.log(`parquetjs-lite:   ${events.length} rows in ${s2.toFixed(2)} s = ${Math.round(events.length / s2).toLocaleString()} rows/s, ${(statSync(path).size / events.length).toFixed(1)} bytes/row (Snappy)`);
  rmSync(dir, { recursive: true, force: true });
}
