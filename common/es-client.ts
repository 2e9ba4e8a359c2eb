import { readFileSync } from 'node:fs';
import { Client, type ClientOptions } from '@elastic/elasticsearch';
import type { Config } from '../contracts/config.js';

export type EsClientSettings = Pick<Config, 'esUrl' | 'esUsername' | 'esPassword' | 'esApiKey'> & Partial<Pick<Config, 'esCaFile' | 'esCaFingerprint'>>;

/**
 * TLS options for an https ES_URL: trust ES_CA_FILE's certificates (the cluster's own CA, e.g.
 * config/certs/http_ca.crt of a default Elasticsearch 8 install) and/or pin ES_CA_FINGERPRINT
 * (the SHA-256 fingerprint Elasticsearch prints at first start). Neither: the system's CAs.
 */
export function esTlsOptions(cfg: Partial<Pick<Config, 'esUrl' | 'esCaFile' | 'esCaFingerprint'>>): Pick<ClientOptions, 'tls' | 'caFingerprint'> {
  const out: Pick<ClientOptions, 'tls' | 'caFingerprint'> = {};
  if ((cfg.esCaFile || cfg.esCaFingerprint) && !cfg.esUrl?.startsWith('https:')) {
    throw new Error(`ES_CA_FILE / ES_CA_FINGERPRINT need an https ES_URL, got ${cfg.esUrl}`);
  }
  if (cfg.esCaFile) {
    try {
      out.tls = { ca: readFileSync(cfg.esCaFile) };
    } catch (err) {
      throw new Error(`ES_CA_FILE ${cfg.esCaFile} cannot be read: ${(err as Error).message}`, { cause: err });
    }
  }
  if (cfg.esCaFingerprint) out.caFingerprint = cfg.esCaFingerprint;
  return out;
}

/** One way to build the Elasticsearch client from config (URL, API key or basic auth, TLS CA or fingerprint). */
export function esFromConfig(cfg: EsClientSettings): Client {
  const auth = cfg.esApiKey
    ? { apiKey: cfg.esApiKey }
    : cfg.esUsername
      ? { username: cfg.esUsername, password: cfg.esPassword }
      : undefined;
  return new Client({ node: cfg.esUrl, auth, requestTimeout: 30000, maxRetries: 2, ...esTlsOptions(cfg) });
}
