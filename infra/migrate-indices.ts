/**
 * `npm run es:migrate`: brings the KPI and session indices of a version that kept revenue as one
 * number (`revenue`, all currencies added together) to the per-currency shape
 * (`revenue_by_currency`, a nested list of `{currency, purchases, revenue}`). A field cannot
 * change type in place, and this Elasticsearch has no reindex module or scripts, so the documents
 * are copied through Node: into a temporary index with the new mapping (converted on the way), the
 * old index deleted and created again from its template, the documents copied back, the temporary
 * index deleted. Ids are kept, so the processor's later writes overwrite the same documents.
 *
 * An old document's revenue has no currency: it becomes one entry of the `currency` cut's own
 * value for a KPI document of that cut, `unknown` otherwise (the same name the processor gives a
 * purchase without a currency). Run it with the processors stopped; running it again changes nothing.
 */
import type { Client } from '@elastic/elasticsearch';
import { MISSING_VALUE, type CurrencyRevenue } from '../contracts/documents.js';
import { indexNames, kpiMappings, sessionMappings } from '../contracts/indices.js';
import { installTemplates } from './setup-indices.js';

export interface MigrationResult {
  index: string;
  /** `migrated`: copied into the new mapping; `current`: already per currency; `absent`: no such index. */
  state: 'migrated' | 'current' | 'absent';
  documents: number;
}

type Doc = Record<string, unknown>;

/** The per-currency revenue of an old document (revenue as one number, purchases beside it). */
export function perCurrency(d: Doc): CurrencyRevenue[] {
  const revenue = typeof d.revenue === 'number' ? d.revenue : 0;
  const purchases = typeof d.purchases === 'number' ? d.purchases : revenue !== 0 || d.purchased === true ? 1 : 0;
  if (revenue === 0 && purchases === 0) return [];
  const currency = d.dimension === 'currency' && typeof d.dimension_value === 'string' ? d.dimension_value : MISSING_VALUE;
  return [{ currency, purchases, revenue }];
}

/** An old document in the new shape: `revenue` gone, `revenue_by_currency` from it. */
export function convert(d: Doc): Doc {
  const { revenue: _old, ...rest } = d;
  return { ...rest, revenue_by_currency: perCurrency(d) };
}

/** Whether an index's mapping still keeps revenue as a number (installing the templates may have added revenue_by_currency beside it). */
const isOld = (props: Record<string, { type?: string }>) => props.revenue !== undefined;

async function copy(es: Client, from: string, to: string, map: (d: Doc) => Doc): Promise<number> {
  let n = 0;
  const docs = es.helpers.scrollSearch<Doc>({ index: from, size: 1000, query: { match_all: {} } });
  for await (const page of docs) {
    if (!page.body.hits.hits.length) continue;
    const ops = page.body.hits.hits.flatMap((h) => [{ index: { _index: to, _id: h._id } }, map(h._source!)]);
    const res = await es.bulk({ operations: ops, refresh: false });
    if (res.errors) {
      const bad = res.items.find((i) => i.index?.error)?.index?.error;
      throw new Error(`copying ${from} into ${to} refused a document: ${bad?.type}: ${bad?.reason}; ${to} is left as it is, ${from} untouched`);
    }
    n += page.body.hits.hits.length;
  }
  await es.indices.refresh({ index: to });
  return n;
}

/** Migrates the KPI and session indices of `prefix` (templates installed first). */
export async function migrateIndices(es: Client, esUrl: string, prefix: string, log: (m: string) => void = () => {}): Promise<MigrationResult[]> {
  const n = indexNames(prefix);
  const out: MigrationResult[] = [];
  for (const [index, mappings] of [
    [n.kpis, kpiMappings],
    [n.sessions, sessionMappings],
  ] as const) {
    if (!(await es.indices.exists({ index }))) {
      out.push({ index, state: 'absent', documents: 0 });
      continue;
    }
    const props = ((await es.indices.getMapping({ index }))[index]?.mappings.properties ?? {}) as Record<string, { type?: string }>;
    const count = (await es.count({ index })).count;
    if (!isOld(props)) {
      out.push({ index, state: 'current', documents: count });
      continue;
    }
    const temp = `${index}-migrating`;
    log(`${index}: revenue is one number; copying ${count} documents into ${temp} per currency`);
    await es.indices.delete({ index: temp, ignore_unavailable: true });
    await es.indices.create({ index: temp, mappings: mappings as never });
    const copied = await copy(es, index, temp, convert);
    if (copied !== count) throw new Error(`${index}: copied ${copied} of ${count} documents into ${temp}; ${index} untouched`);
    await es.indices.delete({ index });
    await installTemplates(esUrl, prefix, { client: es });
    await es.indices.create({ index });
    const back = await copy(es, temp, index, (d) => d);
    if (back !== count) throw new Error(`${index}: copied ${back} of ${count} documents back from ${temp}; ${temp} kept`);
    await es.indices.delete({ index: temp });
    log(`${index}: ${back} documents migrated`);
    out.push({ index, state: 'migrated', documents: back });
  }
  return out;
}
