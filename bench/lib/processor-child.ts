/**
 * The real processor as bench:processor runs it: one Node process per role (PROCESSOR_ROLES),
 * each with its own metrics port, so each role's CPU and memory are its own process's.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import type { Client } from '@elastic/elasticsearch';
import { configToEnv } from '../../contracts/config.js';
import { indexNames } from '../../contracts/indices.js';
import type { KafkaBroker } from '../../infra/kafka.js';
import { clientEnv } from './secure.js';
import { httpOk, NodeChild } from './child.js';
import { onCleanup } from './run.js';
import { PROCESSOR_NODE_FLAGS } from '../../processor/node-flags.js';

export const ROLES = ['analytics', 'index', 'archive'] as const;
export type BenchRole = (typeof ROLES)[number];

export interface ProcessorServices {
  kafkaBrokers: string[];
  esUrl: string;
  kafkaClient: KafkaBroker['clientConfig'];
}

export interface ProcessorSpawn {
  name: string;
  roles: readonly BenchRole[];
  services: ProcessorServices;
  topicPrefix: string;
  indexPrefix: string;
  group: string;
  metricsPort: number;
  dataDir: string;
  /** Settings on top of the defaults (the bench's own, then --processor-env). */
  env?: Record<string, string>;
  nodeFlags?: string[];
  /** Another checkout to run the processor from (`<root>/processor/main.ts`, --ab-root); default this one. */
  root?: string;
}

/** Starts a processor process and waits until its metrics answer. */
export async function spawnProcessor(o: ProcessorSpawn): Promise<NodeChild> {
  const child = new NodeChild(o.name, o.root ? path.resolve(o.root, 'processor', 'main.ts') : 'processor/main.ts', {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      ...configToEnv({
        kafkaBrokers: o.services.kafkaBrokers,
        esUrl: o.services.esUrl,
        topicPrefix: o.topicPrefix,
        esIndexPrefix: o.indexPrefix,
        processorGroupId: o.group,
        processorRoles: [...o.roles],
        processorMetricsHost: '127.0.0.1',
        processorMetricsPort: o.metricsPort,
        archiveBackend: 'local',
        archiveDir: path.join(o.dataDir, 'archive', o.topicPrefix || 'default'),
        logLevel: 'warn',
      }),
      ...clientEnv(o.services.kafkaClient),
      ...o.env,
    },
    logFile: path.join(o.dataDir, 'logs', `${o.name}.log`),
    nodeFlags: [...PROCESSOR_NODE_FLAGS, ...(o.nodeFlags ?? [])],
  });
  onCleanup(o.name, () => child.stop());
  await child.waitReady(() => httpOk(`http://127.0.0.1:${o.metricsPort}/healthz`), 60_000);
  return child;
}

/** A metric of a processor summed over its labels (optionally only those with `label`, e.g. 'role="analytics"'). */
export async function metricValue(port: number, name: string, label?: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (label && !line.includes(label)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Resident memory of a process in MB (VmRSS), NaN once it is gone. */
export function rssMbOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Samples a process's RSS every 250 ms until stopped: the peak and the median of the samples. */
export function rssSampler(pid: number): { stop(): { peakMb: number; samples: number[] } } {
  const samples: number[] = [];
  const timer = setInterval(() => {
    const v = rssMbOf(pid);
    if (Number.isFinite(v)) samples.push(v);
  }, 250);
  return {
    stop() {
      clearInterval(timer);
      return { peakMb: samples.length ? Math.max(...samples) : NaN, samples };
    },
  };
}

/** Events counted in tumbling KPI windows (dimension "all"), summed over partitions. */
export async function kpiTotal(es: Client, prefix: string): Promise<number> {
  const res = await es.search({
    index: indexNames(prefix).kpis,
    size: 0,
    ignore_unavailable: true,
    query: { bool: { filter: [{ term: { dimension: 'all' } }, { prefix: { window_kind: 'tumbling_' } }] } },
    aggs: { pv: { sum: { field: 'page_views' } }, cl: { sum: { field: 'clicks' } }, ac: { sum: { field: 'add_to_cart' } }, pu: { sum: { field: 'purchases' } } },
  });
  const ag = res.aggregations as Record<string, { value: number }> | undefined;
  if (!ag) return 0;
  return ag.pv.value + ag.cl.value + ag.ac.value + ag.pu.value;
}

/** Index operations Elasticsearch applied to the primaries of `pattern` (no refresh needed; rewrites count again). */
export async function indexOps(es: Client, pattern: string): Promise<number> {
  const stats = await es.indices.stats({ index: pattern, metric: 'indexing' }).catch(() => null);
  return stats?._all.primaries?.indexing?.index_total ?? 0;
}
