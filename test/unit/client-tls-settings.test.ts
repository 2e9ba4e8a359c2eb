import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { esTlsOptions } from '../../common/es-client.js';
import { kafkaCa } from '../../common/kafka-client.js';
import { platformaticConnection } from '../../gateway/platformatic-driver.js';
import { parseConfig } from '../../contracts/config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tls-settings-'));
const pem = path.join(dir, 'ca.pem');
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
writeFileSync(pem, PEM);
const base = parseConfig({});

test('ES_CA_FILE and ES_CA_FINGERPRINT become the client\'s TLS trust, for https only', () => {
  expect(esTlsOptions({ esUrl: 'http://127.0.0.1:9200' })).toEqual({});
  expect(esTlsOptions({ esUrl: 'https://es:9200', esCaFile: pem, esCaFingerprint: 'AA:BB' })).toEqual({ tls: { ca: Buffer.from(PEM) }, caFingerprint: 'AA:BB' });
  expect(() => esTlsOptions({ esUrl: 'http://es:9200', esCaFingerprint: 'AA' })).toThrow('need an https ES_URL');
  expect(() => esTlsOptions({ esUrl: 'https://es:9200', esCaFile: path.join(dir, 'missing.pem') })).toThrow('ES_CA_FILE');
});

test('KAFKA_SSL_CA_FILE reaches both Kafka clients', () => {
  expect(kafkaCa({ kafkaSsl: true, kafkaSslCaFile: '' })).toBeUndefined();
  expect(kafkaCa({ kafkaSsl: true, kafkaSslCaFile: pem })?.[0].toString()).toContain('BEGIN CERTIFICATE');
  expect(() => kafkaCa({ kafkaSsl: false, kafkaSslCaFile: pem })).toThrow('KAFKA_SSL is false');
  const c = platformaticConnection({ ...base, kafkaSsl: true, kafkaSslCaFile: pem, kafkaSaslMechanism: 'scram-sha-512', kafkaSaslUsername: 'u', kafkaSaslPassword: 'p' });
  expect(c.tls?.ca?.[0].toString()).toContain('BEGIN CERTIFICATE');
  expect(c.sasl).toEqual({ mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' });
});

