/**
 * What the browser tests that run the whole pipeline share: topics and index templates of their
 * own on the shared Kafka and Elasticsearch, the settings of a gateway and a processor writing
 * there, and the gateway serving the demo shop on loopback.
 */
import { inject } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../contracts/config.js';
import { freePort } from '../../infra/ports.js';
import { installTemplates } from '../../infra/setup-indices.js';
import { ensureTopics } from '../../infra/setup-topics.js';
import { startGateway } from '../harness/gateway.js';
import { unique } from '../integration/helpers.js';

export interface ShopPipeline {
  cfg: Partial<Config>;
  /** The port the gateway will listen on, and its base URL. */
  port: number;
  gateway: string;
}

/**
 * Fresh topics (3 partitions) and index templates under prefixes named after `tag`, and the
 * settings of a gateway on a free port whose site(s) `siteKey` allow the gateway's own origin
 * (the demo shop is served there) and of a processor without archive; `extra` overrides.
 */
export async function shopPipeline(tag: string, siteKey: string | string[], extra: Partial<Config> = {}): Promise<ShopPipeline> {
  const brokers = inject('kafkaBrokers');
  const esUrl = inject('esUrl');
  const topicPrefix = `${unique(tag)}_`;
  const esIndexPrefix = unique(tag).toLowerCase();
  await Promise.all([ensureTopics(brokers, { prefix: topicPrefix, partitions: 3 }), installTemplates(esUrl, esIndexPrefix)]);
  const port = await freePort();
  const gateway = `http://127.0.0.1:${port}`;
  const cfg: Partial<Config> = {
    kafkaBrokers: brokers,
    esUrl,
    topicPrefix,
    esIndexPrefix,
    sites: [siteKey].flat().map((k) => `${k}:${gateway}`).join(';'),
    processorGroupId: unique('group'),
    processorMetricsPort: 0,
    archiveBackend: 'none',
    logLevel: 'warn',
    ...extra,
  };
  return { cfg, port, gateway };
}

/** The real gateway app serving the demo shop, listening on the pipeline's port and ready. */
export async function startShopGateway(p: ShopPipeline): Promise<FastifyInstance> {
  return (await startGateway({ ...p.cfg, gatewayDemoShop: true }, { port: p.port })).app;
}
