import { Client } from '@elastic/elasticsearch';
import type { Config } from '../contracts/config.js';

/** One way to build the Elasticsearch client from config (URL plus optional API key or basic auth). */
export function esFromConfig(cfg: Pick<Config, 'esUrl' | 'esUsername' | 'esPassword' | 'esApiKey'>): Client {
  const auth = cfg.esApiKey
    ? { apiKey: cfg.esApiKey }
    : cfg.esUsername
      ? { username: cfg.esUsername, password: cfg.esPassword }
      : undefined;
  return new Client({ node: cfg.esUrl, auth, requestTimeout: 30000, maxRetries: 2 });
}
