/**
 * `--secure` (or KAFKA_LOCAL_SECURE=true): the bench's own broker takes only TLS and SASL/SCRAM,
 * as infra starts it, and every client the bench makes (its own, and the gateway's and
 * processor's through their KAFKA_SSL / KAFKA_SASL_* settings) uses the same settings, so the
 * figures include what encryption and authentication cost.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../common/config.js';
import type { KafkaClientSettings } from '../../common/kafka-client.js';
import { configToEnv } from '../../contracts/config.js';
import type { KafkaBroker, KafkaSecurity } from '../../infra/kafka.js';

/** The SCRAM user of the bench's broker when secured: KAFKA_SASL_USERNAME / _PASSWORD, or a fresh password. */
export function benchSecurity(secure: boolean): KafkaSecurity | undefined {
  const cfg = loadConfig();
  if (!secure && !cfg.kafkaLocalSecure) return undefined;
  return { username: cfg.kafkaSaslUsername || 'clickstream', password: cfg.kafkaSaslPassword || randomBytes(12).toString('hex') };
}

/** Client settings for `broker`: its TLS CA and SCRAM login when secured, plaintext otherwise. */
export function clientSettings(broker: KafkaBroker['clientConfig']): KafkaClientSettings {
  return { ...loadConfig(), ...broker };
}

/** The same as environment settings for a child process (gateway, processor). */
export function clientEnv(broker: KafkaBroker['clientConfig']): Record<string, string> {
  return configToEnv({ ...broker });
}

/** A Java client's properties (Kafka's perf tools, `--consumer.config`) for the same TLS and SASL login. */
export function javaClientProperties(c: KafkaClientSettings): string {
  const lines: string[] = [];
  const sasl = c.kafkaSaslMechanism.toUpperCase();
  lines.push(`security.protocol=${c.kafkaSsl ? (sasl ? 'SASL_SSL' : 'SSL') : sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT'}`);
  if (c.kafkaSsl && c.kafkaSslCaFile) lines.push('ssl.truststore.type=PEM', `ssl.truststore.location=${c.kafkaSslCaFile}`);
  if (sasl) {
    const module = sasl === 'PLAIN' ? 'org.apache.kafka.common.security.plain.PlainLoginModule' : 'org.apache.kafka.common.security.scram.ScramLoginModule';
    lines.push(`sasl.mechanism=${sasl}`, `sasl.jaas.config=${module} required username="${c.kafkaSaslUsername}" password="${c.kafkaSaslPassword}";`);
  }
  return lines.join('\n') + '\n';
}

/** How the run connected, for its printed header. */
export function describeSecurity(c: Pick<KafkaClientSettings, 'kafkaSsl' | 'kafkaSaslMechanism'>): string {
  return c.kafkaSsl || c.kafkaSaslMechanism ? `Kafka over ${c.kafkaSsl ? 'TLS' : 'plaintext'}${c.kafkaSaslMechanism ? ` with SASL ${c.kafkaSaslMechanism}` : ''}` : 'Kafka over plaintext';
}
