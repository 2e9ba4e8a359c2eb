/**
 * Kafka's own consumer perf tool (org.apache.kafka.tools.ConsumerPerformance, in the
 * org.apache.kafka:kafka-tools jar of the broker's version), fetched from Maven Central once
 * into the project's Maven cache; its classpath is cached in .cache/kafka-tools-<version>.classpath.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findJava } from '../../infra/java.js';
import { mavenClasspath } from '../../infra/fetch.js';
import { PROJECT_ROOT } from '../../infra/paths.js';
import { CONSUMER_FETCH } from '../../processor/consumer.js';

export function kafkaToolsClasspath(version: string): Promise<string[]> {
  return mavenClasspath(path.join(PROJECT_ROOT, 'bench', 'maven', 'kafka-tools-pom.xml'), version, `kafka-tools-${version}`, `kafka-tools-${version}.jar`);
}

export interface ConsumerPerfResult {
  messages: number;
  /** Time spent fetching, without the group join (the tool's fetch.time.ms). */
  fetchMs: number;
  rebalanceMs: number;
  mb: number;
  /** Wall time of the whole JVM run, start-up included. */
  wallMs: number;
}

/**
 * The Java consumer's properties for the processor's fetch settings (processor/consumer.ts
 * CONSUMER_FETCH), so the tool and the processor fetch alike; written into --consumer.config.
 */
export function javaFetchProperties(): string {
  return [
    `fetch.max.wait.ms=${CONSUMER_FETCH.maxWaitTimeInMs}`,
    `fetch.min.bytes=${CONSUMER_FETCH.minBytes}`,
    `max.partition.fetch.bytes=${CONSUMER_FETCH.maxBytesPerPartition}`,
    `fetch.max.bytes=${CONSUMER_FETCH.maxBytes}`,
  ].join('\n') + '\n';
}

/** Runs ConsumerPerformance on one topic until `messages` are read (at most timeoutMs). */
export async function consumerPerformance(opts: {
  classpath: string[];
  bootstrap: string;
  topic: string;
  messages: number;
  group: string;
  logDir: string;
  timeoutMs?: number;
  /** Properties file of the consumer (TLS, SASL), when the broker needs them. */
  consumerConfig?: string;
}): Promise<ConsumerPerfResult> {
  mkdirSync(opts.logDir, { recursive: true });
  const log4j = path.join(opts.logDir, 'tools-log4j.properties');
  writeFileSync(log4j, 'log4j.rootLogger=WARN, stderr\nlog4j.appender.stderr=org.apache.log4j.ConsoleAppender\nlog4j.appender.stderr.Target=System.err\nlog4j.appender.stderr.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n\n');
  const args = [
    '-Xmx512m',
    `-Dlog4j.configuration=file:${log4j}`,
    '-cp',
    opts.classpath.join(path.delimiter),
    'org.apache.kafka.tools.ConsumerPerformance',
    '--bootstrap-server',
    opts.bootstrap,
    '--topic',
    opts.topic,
    '--messages',
    String(opts.messages),
    '--group',
    opts.group,
    '--timeout',
    '30000',
    // The tool sets max.partition.fetch.bytes from this option, over --consumer.config.
    '--fetch-size',
    String(CONSUMER_FETCH.maxBytesPerPartition),
    ...(opts.consumerConfig ? ['--consumer.config', opts.consumerConfig] : []),
  ];
  const t0 = performance.now();
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(findJava().bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 180_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`ConsumerPerformance on ${opts.topic} failed (${signal ?? `exit ${code}`}):\n${stderr}${stdout}`));
    });
  });
  const wallMs = performance.now() - t0;
  // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const line = out
    .trim()
    .split('\n')
    .filter((l) => /^\d{4}-\d\d-\d\d/.test(l.trim()))
    .pop();
  if (!line) throw new Error(`ConsumerPerformance printed no result line:\n${out}`);
  const f = line.split(',').map((s) => s.trim());
  return { mb: Number(f[2]), messages: Number(f[4]), rebalanceMs: Number(f[6]), fetchMs: Number(f[7]), wallMs };
}
