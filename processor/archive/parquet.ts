/**
 * The archive's Parquet format, derived from ENRICHED_FIELDS (contracts/event-schema.ts) so a
 * field added to the event is archived without touching this file. Written with
 * hyparquet-writer (maintained, and about ten times faster than parquetjs-lite in a measurement
 * here: see the README), Snappy-compressed, read back with hyparquet.
 *
 * Column types: keyword/text/geo_point -> STRING (UTF8), date -> TIMESTAMP (INT64 millis, UTC),
 * long -> INT64, double -> DOUBLE, boolean -> BOOLEAN, json -> JSON. Two provenance columns
 * follow the event fields: kafka_partition (INT32) and kafka_offset (INT64), so the archive
 * can be checked for gaps and duplicates offset by offset.
 */
import { ByteWriter, ParquetWriter, schemaFromColumnData } from 'hyparquet-writer';
import { parquetReadObjects } from 'hyparquet';
import { ENRICHED_FIELDS, type EnrichedEvent, type FieldKind } from '../../contracts/event-schema.js';

type BasicType = 'STRING' | 'TIMESTAMP' | 'INT64' | 'DOUBLE' | 'BOOLEAN' | 'JSON' | 'INT32';

const PARQUET_TYPE: Record<FieldKind, BasicType> = {
  keyword: 'STRING',
  text: 'STRING',
  geo_point: 'STRING',
  date: 'TIMESTAMP',
  long: 'INT64',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  json: 'JSON',
};

/** The archive schema: [column, Parquet type] in file order. */
export const ARCHIVE_COLUMNS: readonly [string, BasicType][] = [
  ...Object.entries(ENRICHED_FIELDS).map(([name, kind]) => [name, PARQUET_TYPE[kind as FieldKind]] as [string, BasicType]),
  ['kafka_partition', 'INT32'],
  ['kafka_offset', 'INT64'],
];

export interface ArchivedEvent {
  event: EnrichedEvent;
  partition: number;
  offset: bigint;
}

function toColumn(type: BasicType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'TIMESTAMP': {
      const ms = typeof value === 'number' ? value : Date.parse(String(value));
      return Number.isFinite(ms) ? new Date(ms) : null;
    }
    case 'INT64':
      return typeof value === 'bigint' ? value : Number.isFinite(Number(value)) ? BigInt(Math.trunc(Number(value))) : null;
    case 'DOUBLE':
      return Number.isFinite(Number(value)) ? Number(value) : null;
    case 'BOOLEAN':
      return Boolean(value);
    case 'STRING':
      return String(value);
    default:
      return value;
  }
}

/**
 * Min/max statistics only where readers prune on them: computing them for all 53 columns made
 * hyparquet-writer about ten times slower here (bench/archive-parquet.ts).
 */
const STATISTICS = new Set(['timestamp', 'event_type', 'site_id', 'kafka_offset']);

/**
 * Rows per row group. The column arrays of a row group are built for it alone: a whole object's
 * (up to ARCHIVE_MAX_EVENTS rows) made 53 arrays of up to 20,000 values, past V8's large-object
 * size, which go straight to the old generation and stay there, garbage, until the next full
 * collection; arrays of this many values die young. The archive role's RSS peak fell by about
 * 70 MB with it (bench/README.md).
 */
export const ROW_GROUP_ROWS = 4096;

/** The column arrays of rows [from, to). */
function columnsOf(rows: readonly ArchivedEvent[], from: number, to: number) {
  return ARCHIVE_COLUMNS.map(([name, type]) => {
    const data = new Array<unknown>(to - from);
    for (let i = from; i < to; i++) {
      const r = rows[i];
      data[i - from] = name === 'kafka_partition' ? r.partition : name === 'kafka_offset' ? r.offset : toColumn(type, (r.event as unknown as Record<string, unknown>)[name]);
    }
    return { name, type, statistics: STATISTICS.has(name), data };
  });
}

/** One Parquet file (Snappy) of the given events, rows in the given order, in row groups of ROW_GROUP_ROWS. */
export function encodeParquet(rows: readonly ArchivedEvent[]): Uint8Array {
  const first = columnsOf(rows, 0, Math.min(rows.length, ROW_GROUP_ROWS));
  const writer = new ByteWriter();
  const pq = new ParquetWriter({ writer, schema: schemaFromColumnData({ columnData: first as never }), codec: 'SNAPPY', createdBy: 'clickstream-processor' });
  for (let from = 0; from < rows.length || from === 0; from += ROW_GROUP_ROWS) {
    const to = Math.min(rows.length, from + ROW_GROUP_ROWS);
    // The schema is given: the row groups' columns carry names and data only.
    const columnData = (from === 0 ? first : columnsOf(rows, from, to)).map(({ name, statistics, data }) => ({ name, statistics, data }));
    pq.write({ columnData: columnData as never, rowGroupSize: ROW_GROUP_ROWS });
    if (to === rows.length) break;
  }
  pq.finish();
  return new Uint8Array(writer.getBuffer());
}

/** Reads an archive file back into events (dates as ISO strings, longs as numbers). */
export async function decodeParquet(file: Uint8Array): Promise<ArchivedEvent[]> {
  const ab = file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer;
  const rows = (await parquetReadObjects({ file: ab })) as Record<string, unknown>[];
  return rows.map((row) => {
    const event: Record<string, unknown> = {};
    for (const [name, type] of ARCHIVE_COLUMNS) {
      if (name === 'kafka_partition' || name === 'kafka_offset') continue;
      const v = row[name];
      if (v === null || v === undefined) event[name] = null;
      else if (type === 'TIMESTAMP') event[name] = (v as Date).toISOString();
      else if (type === 'INT64') event[name] = Number(v);
      else event[name] = v;
    }
    return { event: event as unknown as EnrichedEvent, partition: Number(row.kafka_partition), offset: BigInt(row.kafka_offset as bigint) };
  });
}
