import type { Client } from '@elastic/elasticsearch';
import { indexNames } from '../../contracts/indices.js';

/** Every document of one index: id -> its source as JSON. */
async function allDocs(es: Client, index: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const scroll = es.helpers.scrollSearch<Record<string, unknown>>({ index, size: 5000, query: { match_all: {} } });
  for await (const page of scroll) for (const h of page.body.hits.hits) out.set(h._id!, JSON.stringify(h._source));
  return out;
}

/**
 * Compares the analytics documents (KPI windows, URL x country stats, sessions) written under two
 * index prefixes: how many each holds, and how many ids are missing on one side or differ.
 */
export async function compareAnalyticsDocs(es: Client, a: string, b: string): Promise<{ docs: number; missing: number; different: number }> {
  let docs = 0;
  let missing = 0;
  let different = 0;
  for (const kind of ['kpis', 'urlStats', 'sessions'] as const) {
    const [ia, ib] = [indexNames(a)[kind], indexNames(b)[kind]];
    await es.indices.refresh({ index: [ia, ib] });
    const [da, db] = [await allDocs(es, ia), await allDocs(es, ib)];
    docs += da.size;
    for (const [id, src] of da) {
      const other = db.get(id);
      if (other === undefined) missing++;
      else if (other !== src) different++;
    }
    for (const id of db.keys()) if (!da.has(id)) missing++;
  }
  return { docs, missing, different };
}
