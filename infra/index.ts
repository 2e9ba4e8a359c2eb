/** The programmatic API of infra/, for tests, the demo and scripts. */
export { startElasticsearch, startKafka, startServices, type RunningServices, type StartElasticsearchOptions, type StartKafkaOptions, type StartServicesOptions } from './services.js';
export { ensureTopics, type EnsureTopicsOptions, type EnsureTopicsResult } from './setup-topics.js';
export { installTemplates, type InstallTemplatesOptions } from './setup-indices.js';
export { fetchAll, fetchElasticsearch, fetchKafka, type ElasticsearchDist, type KafkaDist } from './fetch.js';
export { KafkaBroker } from './kafka.js';
export { ElasticsearchNode } from './elasticsearch.js';
export type { Service } from './service.js';
