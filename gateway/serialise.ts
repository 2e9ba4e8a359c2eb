import fastJson, { type Schema } from 'fast-json-stringify';
import { ENRICHED_FIELDS, type EnrichedEvent, type FieldKind } from '../contracts/event-schema.js';

/** JSON types of each field kind; every field may be null except the flag. */
const JSON_TYPE: Record<FieldKind, object> = {
  keyword: { type: ['string', 'null'] },
  text: { type: ['string', 'null'] },
  date: { type: ['string', 'null'] },
  geo_point: { type: ['string', 'null'] },
  // 'number', not 'integer': the serialiser must never round what validation let through.
  long: { type: ['number', 'null'] },
  double: { type: ['number', 'null'] },
  boolean: { type: 'boolean' },
  // Free-form (purchase items): written as JSON.stringify would.
  json: {},
};

/**
 * The enriched event as Kafka's record value, by a serialiser compiled once from ENRICHED_FIELDS
 * (fast-json-stringify): about 15 % less CPU than JSON.stringify of the same object here, 20 times
 * per request. The field order is ENRICHED_FIELDS's. A field that enrich.ts sets but
 * ENRICHED_FIELDS lacks would be left out: gateway/serialise.test.ts guards that.
 */
export function enrichedEventSerialiser(): (ev: EnrichedEvent) => string {
  const properties = Object.fromEntries(Object.entries(ENRICHED_FIELDS).map(([name, kind]) => [name, JSON_TYPE[kind as FieldKind]]));
  // fast-json-stringify's types do not model type unions (['string', 'null']); the schema is plain JSON Schema.
  return fastJson({ type: 'object', properties } as unknown as Schema) as (ev: EnrichedEvent) => string;
}
