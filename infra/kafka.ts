import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import kafkajs, { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import type { Config } from '../contracts/config.js';
import type { KafkaDist } from './fetch.js';
import { findJava } from './java.js';
import { JvmProcess, tailFile } from './jvm-process.js';
import { assertPortsFree } from './ports.js';
import { JvmService, StartError } from './service.js';

// kafkajs is CommonJS and Node's ESM loader sees only the names it can find statically (not the
// ACL enums), so the compiled services read them from the default export.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

export interface KafkaBrokerOptions {
  /** Folder of this broker: config, log and data (log.dirs) live under it. */
  dir: string;
  port: number;
  controllerPort: number;
  /** JVM heap, e.g. 512m. */
  heap: string;
  /** num.partitions for topics created without an explicit count. */
  defaultPartitions: number;
  startTimeoutMs: number;
  log: (msg: string) => void;
  /** TLS and SASL/SCRAM on the client listener (KAFKA_LOCAL_SECURE); plaintext without. */
  security?: KafkaSecurity;
  /** In a cluster of several (KAFKA_NODES): this node's id, every node's `id@host:controllerPort`, the shared cluster id. */
  cluster?: { nodeId: number; quorumVoters: string; clusterId: string; size: number };
  /** Broker properties over the ones written here, and JVM flags after these (a bench's A/B of broker settings). */
  tuning?: KafkaTuning;
}

export interface KafkaTuning {
  props?: Record<string, string>;
  jvmFlags?: string[];
  /** log4j lines after the ones written here, e.g. `log4j.logger.kafka.request.logger=DEBUG`: every request's times in kafka.log. */
  log4j?: string[];
}

/**
 * A secured local broker: one SASL_SSL listener for clients and between brokers (the KRaft
 * controller listener stays plaintext on loopback). A self-signed certificate for 127.0.0.1 and
 * localhost is made with the JDK's keytool at the first start (`<dir>/tls/`; clients trust
 * `caFile`); SCRAM-SHA-256 and -512 credentials for `username` and for the broker's own `admin`
 * user are created by Kafka's storage tool when the storage is formatted (so changing them
 * needs a fresh data folder).
 */
export interface KafkaSecurity {
  username: string;
  password: string;
  /** The user may use topics starting with this (every topic when empty) and any consumer group; nothing else. */
  topicPrefix?: string;
}

/** Characters kafka-storage's `--add-scram` syntax cannot carry in a value. */
const SCRAM_UNSAFE = /[,[\]"=\s]/;

/**
 * A Kafka cluster id: 16 random bytes in URL-safe base64 without padding, never starting with '-'
 * (kafka-storage would read it as an option and fail; Kafka's own Uuid.randomUuid skips those too).
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * A real Apache Kafka broker in KRaft combined mode (broker and controller in one JVM, no
 * ZooKeeper), bound to 127.0.0.1, run straight from the jars Maven fetched (main class kafka.Kafka).
 */
export class KafkaBroker extends JvmService {
  readonly name: string;
  readonly brokers: string[];
  readonly logFile: string;
  private readonly configFile: string;
  private readonly log4jFile: string;
  private readonly dataDir: string;
  private readonly tlsDir: string;
  /** PEM certificate clients trust (KAFKA_SSL_CA_FILE) when the broker is secured. */
  readonly caFile: string | undefined;

  constructor(
    private readonly dist: KafkaDist,
    private readonly opts: KafkaBrokerOptions,
  ) {
    super();
    this.brokers = [`127.0.0.1:${opts.port}`];
    this.name = opts.cluster ? `kafka-${opts.cluster.nodeId}` : 'kafka';
    this.logFile = path.join(opts.dir, 'kafka.log');
    this.configFile = path.join(opts.dir, 'server.properties');
    this.log4jFile = path.join(opts.dir, 'log4j.properties');
    this.dataDir = path.join(opts.dir, 'data');
    this.tlsDir = path.join(opts.dir, 'tls');
    this.caFile = opts.security ? path.join(this.tlsDir, 'ca.pem') : undefined;
    if (opts.security) {
      for (const [what, v] of [['user name', opts.security.username], ['password', opts.security.password]]) {
        if (!v || SCRAM_UNSAFE.test(v)) throw new Error(`the secured local broker needs a SASL ${what} without spaces, commas, brackets, quotes or '=' (KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD)`);
      }
    }
  }

  get nodeId(): number {
    return this.opts.cluster?.nodeId ?? 1;
  }

  /** Client settings for this broker: plaintext, or TLS with its CA and SCRAM-SHA-512 login. */
  get clientConfig(): Pick<Config, 'kafkaBrokers' | 'kafkaSsl' | 'kafkaSslCaFile' | 'kafkaSaslMechanism' | 'kafkaSaslUsername' | 'kafkaSaslPassword'> {
    const sec = this.opts.security;
    return {
      kafkaBrokers: this.brokers,
      kafkaSsl: !!sec,
      kafkaSslCaFile: this.caFile ?? '',
      kafkaSaslMechanism: sec ? 'scram-sha-512' : '',
      kafkaSaslUsername: sec?.username ?? '',
      kafkaSaslPassword: sec?.password ?? '',
    };
  }

  /** A kafkajs client for infra's own work on this broker (health, topics), as its admin when secured. */
  adminClient(clientId = 'infra', extra: Partial<KafkaConfig> = {}): Kafka {
    const sec = this.opts.security;
    return new Kafka({
      clientId,
      brokers: this.brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 2_000,
      ...(sec ? { ssl: { ca: [readFileSync(this.caFile!)] }, sasl: { mechanism: 'scram-sha-512', username: 'admin', password: this.adminPassword() } } : {}),
      ...extra,
    });
  }

  async start(): Promise<void> {
    if (this.proc?.alive) throw new Error('kafka is already running');
    const t0 = Date.now();
    const { port, controllerPort } = this.opts;
    await assertPortsFree([
      { port, what: 'Kafka', setting: 'KAFKA_PORT' },
      { port: controllerPort, what: 'Kafka controller', setting: 'KAFKA_CONTROLLER_PORT' },
    ]);
    if (this.opts.security) this.ensureTls();
    this.writeConfig();
    if (!existsSync(path.join(this.dataDir, 'meta.properties'))) await this.format();
    this.proc = this.spawn(['kafka.Kafka', this.configFile]);
    this.proc.onUnexpectedExit = (e) => {
      this.healthy = false;
      this.opts.log(`kafka exited unexpectedly (${e.signal ?? `exit code ${e.code}`}); log: ${this.logFile}`);
    };
    await this.untilHealthy(this.proc, () => this.probe(), { timeoutMs: this.opts.startTimeoutMs, what: 'metadata request' });
    if (this.opts.security) await this.grantPipelineUser(this.opts.security);
    this.healthy = true;
    this.opts.log(`kafka ready on ${this.brokers.join(',')} in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${this.proc.pid})`);
  }

  /** A metadata request that lists this broker: it is up, registered with its controller and unfenced. */
  private async probe(): Promise<boolean> {
    const admin = this.adminClient('infra-health', { connectionTimeout: 1_000, requestTimeout: 2_000, retry: { retries: 0 } }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.brokers.some((b) => b.nodeId === this.nodeId) && cluster.controller !== null;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  private writeConfig(): void {
    const { port, controllerPort, defaultPartitions } = this.opts;
    const replication = Math.min(3, this.opts.cluster?.size ?? 1);
    const minIsr = replication >= 3 ? 2 : 1;
    mkdirSync(this.dataDir, { recursive: true });
    const props: Record<string, string | number | boolean> = {
      'process.roles': 'broker,controller',
      'node.id': this.nodeId,
      'controller.quorum.voters': this.opts.cluster?.quorumVoters ?? `1@127.0.0.1:${controllerPort}`,
      listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      'log.dirs': this.dataDir,
      'num.partitions': defaultPartitions,
      // On three nodes or more, everything is written to three with two in sync: one node may die.
      'default.replication.factor': replication,
      'min.insync.replicas': minIsr,
      'offsets.topic.replication.factor': replication,
      // 50 by default: fewer makes the first consumer group of a fresh broker join faster.
      'offsets.topic.num.partitions': 10,
      'transaction.state.log.replication.factor': replication,
      'transaction.state.log.min.isr': minIsr,
      // A restarted node takes its partitions' leadership back once in sync (the default, faster).
      'leader.imbalance.check.interval.seconds': 10,
      'group.initial.rebalance.delay.ms': 0,
      // After a crash the restarted broker cannot register until its old session expires
      // (9 s by default): a shorter session makes kill-and-restart tests quicker. Heartbeats are
      // local, so 8 of them per session leaves a wide margin.
      'broker.session.timeout.ms': 4_000,
      'broker.heartbeat.interval.ms': 500,
      'auto.create.topics.enable': false,
      'delete.topic.enable': true,
      'log.retention.hours': 168,
      ...(this.opts.security ? this.securityProps() : {}),
      ...this.opts.tuning?.props,
    };
    writeFileSync(
      this.configFile,
      `# Written by infra/kafka.ts at every start; edit that file instead.\n${Object.entries(props)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n')}\n`,
    );
    writeFileSync(
      this.log4jFile,
      [
        'log4j.rootLogger=INFO, stdout',
        'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
        'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
        'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
        'log4j.logger.kafka.request.logger=WARN',
        'log4j.logger.state.change.logger=WARN',
        'log4j.logger.kafka.log.LogCleaner=WARN',
        'log4j.logger.org.apache.kafka.storage.internals.log=WARN',
        'log4j.logger.kafka.log=WARN',
        'log4j.logger.org.apache.kafka.clients=WARN',
        ...(this.opts.tuning?.log4j ?? []),
        '',
      ].join('\n'),
    );
  }

  /** Formats the KRaft log dir once (only when it has no meta.properties). */
  private async format(): Promise<void> {
    const t0 = Date.now();
    const clusterId = this.opts.cluster?.clusterId ?? newClusterId();
    const scram = this.opts.security
      ? [
          ['admin', this.adminPassword()],
          [this.opts.security.username, this.opts.security.password],
        ].flatMap(([name, password]) => ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => ['--add-scram', `${m}=[name=${name},password=${password}]`]))
      : [];
    const proc = this.spawn(['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', this.configFile, '--ignore-formatted', ...scram], '128m');
    const exit = await proc.exited;
    if (exit.code !== 0) {
      throw new StartError(
        `formatting Kafka storage in ${this.dataDir} failed (${exit.signal ?? `exit code ${exit.code}`}).\n--- last lines of ${this.logFile} ---\n${tailFile(this.logFile)}`,
      );
    }
    this.opts.log(`kafka storage formatted in ${((Date.now() - t0) / 1000).toFixed(1)} s (cluster id ${clusterId})`);
  }

  /**
   * ACLs of the pipeline's user (idempotent: granting again changes nothing): everything on its
   * topics (produce, consume, create, describe), its consumer groups, idempotent produce.
   */
  private async grantPipelineUser(sec: KafkaSecurity): Promise<void> {
    const principal = `User:${sec.username}`;
    const allow = { principal, host: '*', permissionType: AclPermissionTypes.ALLOW };
    const topics = sec.topicPrefix
      ? { resourceType: AclResourceTypes.TOPIC, resourceName: sec.topicPrefix, resourcePatternType: ResourcePatternTypes.PREFIXED }
      : { resourceType: AclResourceTypes.TOPIC, resourceName: '*', resourcePatternType: ResourcePatternTypes.LITERAL };
    const admin = this.adminClient('infra-acl').admin();
    await admin.connect();
    try {
      await admin.createAcls({
        acl: [
          { ...topics, ...allow, operation: AclOperationTypes.ALL },
          { resourceType: AclResourceTypes.GROUP, resourceName: '*', resourcePatternType: ResourcePatternTypes.LITERAL, ...allow, operation: AclOperationTypes.ALL },
          { resourceType: AclResourceTypes.CLUSTER, resourceName: 'kafka-cluster', resourcePatternType: ResourcePatternTypes.LITERAL, ...allow, operation: AclOperationTypes.IDEMPOTENT_WRITE },
          { resourceType: AclResourceTypes.CLUSTER, resourceName: 'kafka-cluster', resourcePatternType: ResourcePatternTypes.LITERAL, ...allow, operation: AclOperationTypes.DESCRIBE },
        ],
      });
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /** The broker's own SCRAM password (inter-broker login and infra's admin work), made once. */
  private adminPassword(): string {
    const file = path.join(this.tlsDir, 'admin-password');
    if (!existsSync(file)) {
      mkdirSync(this.tlsDir, { recursive: true });
      writeFileSync(file, randomBytes(18).toString('hex'), { mode: 0o600 });
    }
    return readFileSync(file, 'utf8').trim();
  }

  private securityProps(): Record<string, string | number> {
    const { port, controllerPort } = this.opts;
    const keystorePassword = readFileSync(path.join(this.tlsDir, 'keystore-password'), 'utf8').trim();
    const jaas = `org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${this.adminPassword()}";`;
    return {
      listeners: `SASL_SSL://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      'advertised.listeners': `SASL_SSL://127.0.0.1:${port}`,
      'inter.broker.listener.name': 'SASL_SSL',
      'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL',
      'sasl.enabled.mechanisms': 'SCRAM-SHA-512,SCRAM-SHA-256',
      'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
      // Each enabled mechanism needs its login module on the listener (the broker's own login for 512).
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': jaas,
      'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config': jaas,
      'ssl.keystore.type': 'PKCS12',
      'ssl.keystore.location': path.join(this.tlsDir, 'broker.p12'),
      'ssl.keystore.password': keystorePassword,
      'ssl.key.password': keystorePassword,
      'ssl.truststore.type': 'PKCS12',
      'ssl.truststore.location': path.join(this.tlsDir, 'truststore.p12'),
      'ssl.truststore.password': keystorePassword,
      'ssl.client.auth': 'none',
      // The broker connects to itself by IP: the certificate's SAN holds 127.0.0.1.
      'ssl.endpoint.identification.algorithm': 'https',
      // Access control: the pipeline's user gets only what grantPipelineUser() allows. The broker's
      // own login is a super user, and so is the KRaft controller listener's principal
      // (ANONYMOUS: plaintext, on loopback, between the nodes' own processes).
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:admin;User:ANONYMOUS',
    };
  }

  /** The broker's key and self-signed certificate (keytool), and the certificate in PEM for clients; made once. */
  private ensureTls(): void {
    const keystore = path.join(this.tlsDir, 'broker.p12');
    if (existsSync(keystore) && existsSync(this.caFile!) && existsSync(path.join(this.tlsDir, 'truststore.p12'))) return;
    for (const f of ['broker.p12', 'truststore.p12']) rmSync(path.join(this.tlsDir, f), { force: true });
    mkdirSync(this.tlsDir, { recursive: true });
    const password = randomBytes(18).toString('hex');
    writeFileSync(path.join(this.tlsDir, 'keystore-password'), password, { mode: 0o600 });
    const keytool = path.join(findJava().home, 'bin', 'keytool');
    const run = (args: string[]) => {
      const r = spawnSync(keytool, args, { encoding: 'utf8' });
      if (r.status !== 0) throw new StartError(`keytool ${args[0]} failed: ${(r.stderr || r.stdout || r.error?.message || '').trim()}`);
    };
    const t0 = Date.now();
    run(['-genkeypair', '-alias', 'broker', '-keyalg', 'RSA', '-keysize', '2048', '-validity', '825', '-dname', 'CN=localhost,O=clickstream local broker',
      '-ext', 'SAN=ip:127.0.0.1,dns:localhost', '-keystore', keystore, '-storetype', 'PKCS12', '-storepass', password, '-keypass', password]);
    run(['-exportcert', '-rfc', '-alias', 'broker', '-keystore', keystore, '-storetype', 'PKCS12', '-storepass', password, '-file', this.caFile!]);
    // The broker is its own client between brokers: it trusts the same certificate.
    run(['-importcert', '-noprompt', '-alias', 'ca', '-file', this.caFile!, '-keystore', path.join(this.tlsDir, 'truststore.p12'), '-storetype', 'PKCS12', '-storepass', password]);
    this.opts.log(`kafka TLS certificate made in ${((Date.now() - t0) / 1000).toFixed(1)} s (clients trust ${this.caFile})`);
  }

  private spawn(mainAndArgs: string[], heap = this.opts.heap): JvmProcess {
    const java = findJava();
    const jvm = [
      `-Xms${heap}`,
      `-Xmx${heap}`,
      // The flags of Kafka's own kafka-run-class.sh / kafka-server-start.sh.
      '-server',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:InitiatingHeapOccupancyPercent=35',
      '-XX:+ExplicitGCInvokesConcurrent',
      '-XX:MaxInlineLevel=15',
      '-XX:+ExitOnOutOfMemoryError',
      ...(this.opts.tuning?.jvmFlags ?? []),
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${this.log4jFile}`,
      `-Dkafka.logs.dir=${this.opts.dir}`,
      '-cp',
      this.dist.classpath.join(path.delimiter),
    ];
    return new JvmProcess({
      name: this.name,
      command: java.bin,
      args: [...jvm, ...mainAndArgs],
      cwd: this.opts.dir,
      logFile: this.logFile,
    });
  }
}
