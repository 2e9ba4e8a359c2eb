/**
 * The capacity plan's arithmetic (docs/capacity.md): what 10k, 100k and 1M events/s need, from
 * the figures measured by the benchmarks (each input names its bench and the text it is read
 * from in bench/README.md) and a few stated assumptions. `npm run capacity:doc` prints the
 * tables; `-- --write` puts them into docs/capacity.md between the capacity markers.
 * test/unit/capacity-doc.test.ts fails when a cited figure is no longer in bench/README.md or the
 * document's tables are not these: rerun the benches, update MEASURED, rerun this.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface Input {
  value: number;
  /** Where it comes from: the bench and its section. */
  source: string;
  /** The figure as bench/README.md prints it (checked by the unit test); absent for assumptions. */
  cited?: string;
}

/** Measured (bench/README.md). */
export const MEASURED = {
  gatewayCpuMsPerRequest: { value: 0.365, source: 'bench:gateway, 1 Dec 16:02 (quiet machine): HTTP and parse 0.028 + own work 0.157 + Kafka client (@platformatic/kafka) 0.180 ms per 20-event request', cited: 'HTTP + parse 0.028; + validation, enrichment, dedup, serialisation 0.157; + Kafka client 0.180; Kafka broker 0.080' },
  eventsPerRequest: { value: 20, source: 'bench:gateway: batches of 20 events', cited: 'batches of 20 events' },
  brokerCpuMsPerRequest: { value: 0.08, source: 'bench:gateway, 1 Dec 16:02: the broker\'s CPU per request (acks=all)', cited: 'HTTP + parse 0.028; + validation, enrichment, dedup, serialisation 0.157; + Kafka client 0.180; Kafka broker 0.080' },
  analyticsUsPerEvent: { value: 18.9, source: 'bench:processor, 1 Dec 16:18: the analytics role alone, CPU per event (median of 3)', cited: 'analytics 18.9 µs, index 16.1 µs, archive 25.1 µs' },
  indexUsPerEvent: { value: 16.1, source: 'bench:processor, 1 Dec 16:18: the index role alone, CPU per event (median of 3)', cited: 'analytics 18.9 µs, index 16.1 µs, archive 25.1 µs' },
  archiveUsPerEvent: { value: 25.1, source: 'bench:processor, 1 Dec 16:18: the archive role alone, CPU per event (median of 3)', cited: 'analytics 18.9 µs, index 16.1 µs, archive 25.1 µs' },
  processorEsWritesPerEvent: { value: 1.53, source: 'bench:processor, 22 Nov: 9,551 document writes/s for 6,239 events/s', cited: '9,551 documents (~1.5 per event)' },
  esBulkDocsPerS: { value: 36_144, source: 'bench:processor, 1 Dec 16:18: best plain bulk loop, one node sharing 2 cores with Kafka and the processor', cited: 'best bulk loop\'s 36,144' },
  esBulkCores: { value: 2, source: 'bench:processor: the machine\'s 2 shared cores', cited: '2 shared cores' },
  kafkaBytesPerEvent: { value: 1173, source: 'bench:storage: Kafka record, value + key, JSON, uncompressed', cited: '| Kafka record (value + key, JSON, uncompressed) | 1,173 |' },
  esBytesPerEvent: { value: 334, source: 'bench:storage: raw-event document, primary, force-merged', cited: '| Elasticsearch raw event (primary, force-merged) | 334 |' },
  parquetBytesPerEvent: { value: 54, source: 'bench:storage: Parquet archive, Snappy, 20,000-event objects', cited: '| Parquet archive (Snappy, 20,000-event objects) | 54 |' },
} satisfies Record<string, Input>;

/** Assumed (not measured here; each says why). */
export const ASSUMED = {
  targetUtilisation: { value: 0.7, source: 'plan every CPU at 70 %, the gateway HPA\'s target: room for bursts and for a failed instance\'s share' },
  esVcpuPerNode: { value: 8, source: 'an 8-vCPU Elasticsearch data node; bulk indexing taken as linear in cores from the 2-core measurement' },
  esDiskTbPerNode: { value: 4, source: '4 TB of usable disk per Elasticsearch data node (keep under the 85 % low watermark)' },
  esReplicas: { value: 1, source: 'one replica of every index (each document written twice)' },
  rawRetentionDays: { value: 7, source: 'raw events kept 7 days in Elasticsearch (ES_EVENTS_RETENTION_DAYS; default 30), history in the Parquet archive (npm run replay:archive)' },
  kafkaReplication: { value: 3, source: 'TOPIC_REPLICATION=3' },
  kafkaRetentionDays: { value: 2, source: 'retention.ms of 2 days on the event topics (room to replay an outage; the archive keeps the rest)' },
  minInstances: { value: 2, source: 'at least 2 of everything that serves or consumes, 3 Elasticsearch nodes (quorum)' },
} satisfies Record<string, Input>;

export const RATES = [10_000, 100_000, 1_000_000];

const m = Object.fromEntries(Object.entries(MEASURED).map(([k, v]) => [k, v.value])) as { [K in keyof typeof MEASURED]: number };
const a = Object.fromEntries(Object.entries(ASSUMED).map(([k, v]) => [k, v.value])) as { [K in keyof typeof ASSUMED]: number };

/** Events/s one core sustains at the target utilisation, per part. */
export function perCore() {
  const gateway = ((1000 / m.gatewayCpuMsPerRequest) * m.eventsPerRequest) * a.targetUtilisation;
  // Each role consumes every event in its own group and was measured alone, consumption included.
  const roleUs = { analytics: m.analyticsUsPerEvent, index: m.indexUsPerEvent, archive: m.archiveUsPerEvent };
  const processor = Object.fromEntries(Object.entries(roleUs).map(([r, u]) => [r, (1e6 / u) * a.targetUtilisation])) as Record<keyof typeof roleUs, number>;
  const esDocsPerNode = (m.esBulkDocsPerS / m.esBulkCores) * a.esVcpuPerNode * a.targetUtilisation;
  const esEventsPerNode = esDocsPerNode / (m.processorEsWritesPerEvent * (1 + a.esReplicas));
  const brokerEventsPerCore = ((1000 / m.brokerCpuMsPerRequest) * m.eventsPerRequest) * a.targetUtilisation;
  return { gateway, processor, roleUs, esDocsPerNode, esEventsPerNode, brokerEventsPerCore };
}

const nice = (n: number) => [6, 12, 24, 48, 96, 192, 384, 768].find((p) => p >= n) ?? Math.ceil(n / 768) * 768;

export interface Plan {
  rate: number;
  gateways: number;
  processors: Record<'analytics' | 'index' | 'archive', number>;
  partitions: number;
  esNodesCpu: number;
  esNodesDisk: number;
  esNodes: number;
  brokerCores: number;
  tbPerDay: { kafka: number; esRaw: number; parquet: number };
  binds: string;
}

export function plan(rate: number): Plan {
  const c = perCore();
  const atLeast = (n: number) => Math.max(a.minInstances, Math.ceil(n));
  const gateways = atLeast(rate / c.gateway);
  const processors = {
    analytics: atLeast(rate / c.processor.analytics),
    index: atLeast(rate / c.processor.index),
    archive: atLeast(rate / c.processor.archive),
  };
  // A partition is read by one instance of a role: twice the largest role, so each can double
  // (or take a failed instance's share) without adding partitions, which moves visitors.
  const partitions = nice(2 * Math.max(...Object.values(processors)));
  const perDay = rate * 86_400;
  const tb = (bytes: number) => bytes / 1e12;
  const tbPerDay = {
    kafka: tb(perDay * m.kafkaBytesPerEvent * a.kafkaReplication),
    esRaw: tb(perDay * m.esBytesPerEvent * (1 + a.esReplicas)),
    parquet: tb(perDay * m.parquetBytesPerEvent),
  };
  const esNodesCpu = Math.ceil(rate / c.esEventsPerNode);
  const esNodesDisk = Math.ceil((tbPerDay.esRaw * a.rawRetentionDays) / a.esDiskTbPerNode);
  const esNodes = Math.max(3, esNodesCpu, esNodesDisk);
  const brokerCores = Math.ceil(rate / c.brokerEventsPerCore);
  const binds =
    esNodes === 3 && esNodesCpu < 3 && esNodesDisk < 3
      ? 'availability minimums (2 of each, 3 Elasticsearch nodes): no throughput limit is near'
      : esNodesDisk >= esNodesCpu
        ? `Elasticsearch disk (${a.rawRetentionDays} days of raw events), then Elasticsearch indexing`
        : 'Elasticsearch indexing (1.5 documents per event), then its disk';
  return { rate, gateways, processors, partitions, esNodesCpu, esNodesDisk, esNodes, brokerCores, tbPerDay, binds };
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const tbs = (n: number) => (n >= 10 ? int(n) : n >= 1 ? n.toFixed(1) : n.toFixed(2));

/** The markdown that docs/capacity.md holds between its markers. */
export function capacityTables(): string {
  const c = perCore();
  const plans = RATES.map(plan);
  const head = (first: string) => `| ${first} | ${plans.map((p) => `${int(p.rate)} events/s`).join(' | ')} |\n| --- | ${plans.map(() => '---:').join(' | ')} |`;
  const row = (name: string, f: (p: Plan) => string) => `| ${name} | ${plans.map(f).join(' | ')} |`;
  const perUnit = [
    '| unit | events/s at 70 % | from |',
    '| --- | ---: | --- |',
    `| gateway, per core (1 process) | ${int(c.gateway)} | ${m.gatewayCpuMsPerRequest} ms CPU per ${m.eventsPerRequest}-event request |`,
    ...(['analytics', 'index', 'archive'] as const).map(
      (r) => `| processor role \`${r}\`, per core (1 process) | ${int(c.processor[r])} | ${c.roleUs[r]} µs CPU per event, the role alone |`,
    ),
    `| Elasticsearch data node, ${a.esVcpuPerNode} vCPU, ${a.esReplicas} replica | ${int(c.esEventsPerNode)} | ${int(c.esDocsPerNode)} documents/s; ${m.processorEsWritesPerEvent} writes per event |`,
    `| Kafka broker, per core (produce path) | ${int(c.brokerEventsPerCore)} | ${m.brokerCpuMsPerRequest} ms broker CPU per ${m.eventsPerRequest}-event request |`,
  ].join('\n');
  const needs = [
    head('needs'),
    row('gateway instances (1 core each)', (p) => int(p.gateways)),
    row('processor `analytics` / `index` / `archive` instances', (p) => `${p.processors.analytics} / ${p.processors.index} / ${p.processors.archive}`),
    row('partitions per event topic (`TOPIC_PARTITIONS`)', (p) => int(p.partitions)),
    row('Kafka broker cores, produce path (≥ 3 brokers)', (p) => int(p.brokerCores)),
    row('Elasticsearch data nodes: for indexing / for disk / planned', (p) => `${p.esNodesCpu} / ${p.esNodesDisk} / **${p.esNodes}**`),
    row(`Kafka disk written per day (× ${a.kafkaReplication} replicas) / held (${a.kafkaRetentionDays} days)`, (p) => `${tbs(p.tbPerDay.kafka)} / ${tbs(p.tbPerDay.kafka * a.kafkaRetentionDays)} TB`),
    row(`Elasticsearch raw events per day (× ${1 + a.esReplicas} copies) / held (${a.rawRetentionDays} days)`, (p) => `${tbs(p.tbPerDay.esRaw)} / ${tbs(p.tbPerDay.esRaw * a.rawRetentionDays)} TB`),
    row('Parquet archive per day (S3; kept as long as you like)', (p) => `${tbs(p.tbPerDay.parquet)} TB`),
    row('binds first', (p) => p.binds),
  ].join('\n');
  return `${perUnit}\n\n${needs}`;
}

export const DOC = new URL('../docs/capacity.md', import.meta.url);
export const START = '<!-- capacity:start -->';
export const END = '<!-- capacity:end -->';
export const docTables = (text: string) => text.slice(text.indexOf(START) + START.length, text.indexOf(END)).trim();

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--write')) {
    const text = readFileSync(DOC, 'utf8');
    writeFileSync(DOC, `${text.slice(0, text.indexOf(START) + START.length)}\n${capacityTables()}\n${text.slice(text.indexOf(END))}`);
  } else console.log(capacityTables());
}
