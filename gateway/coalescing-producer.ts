import type { EventProducer, OutRecord } from './event-producer.js';
import { hopStore, hopTrace, type Hops } from './hop-trace.js';

/**
 * Group commit in front of a producer: requests that arrive while a send is under way wait, and
 * all of them go to Kafka together in the next send, one round trip for many requests.
 *
 * Why: kafkajs's idempotent producer keeps one produce request per broker in flight (a lock per
 * broker guards the sequence numbers), so with one send per HTTP request the gateway could never
 * take more than one request per Kafka round trip, whatever the CPU (bench/gateway measured about
 * 80 requests/s on a busy 2-core machine). With this, a send carries whatever queued up during the
 * previous one: nothing waits when traffic is light (an idle producer sends at once), and under load
 * the batches grow by themselves, with no linger timer. Each request still resolves only once Kafka
 * acknowledged its records (acks=all), and fails if the send that carried them failed.
 *
 * `maxSends` (GATEWAY_KAFKA_SENDS_IN_FLIGHT): up to that many sends in flight at once, each to a
 * producer of its own (producer-pool.ts); a request that arrives while fewer are in flight goes at
 * once, instead of waiting for the send under way to be acknowledged and then for its own.
 *
 * `lingerMs` (GATEWAY_KAFKA_LINGER_MS): once a send carried several requests, the next one waits
 * that long before it goes, so that it carries more (Kafka's linger.ms, but only under load).
 *
 * `maxBytes` bounds one send (keys + values, in characters) so that a partition's record batch
 * stays under the broker's message.max.bytes (1 MB by default); a request larger than that alone
 * is sent alone, as before.
 */
export function coalescingProducer(inner: EventProducer, opts: { maxBytes?: number; lingerMs?: number; maxSends?: number } = {}): EventProducer {
  const maxBytes = opts.maxBytes ?? 900_000;
  const lingerMs = opts.lingerMs ?? 0;
  const maxSends = Math.max(1, opts.maxSends ?? 1);
  interface Waiting {
    records: OutRecord[];
    bytes: number;
    resolve: () => void;
    reject: (err: unknown) => void;
    /** GATEWAY_TRACE_HOPS only: the request's hop timestamps (hop-trace.ts). */
    hops?: Hops;
  }
  let queue: Waiting[] = [];
  /** Sends in flight (at most maxSends). */
  let sending = 0;
  /** Requests the previous send carried: more than one means requests queue up (load). */
  let lastGroup = 0;
  let lingering = false;

  const pump = () => {
    while (sending < maxSends && !lingering && queue.length > 0) sendNext();
  };

  const sendNext = () => {
    // Under load only: let the next group grow for lingerMs (an idle gateway sends at once).
    if (lingerMs > 0 && lastGroup > 1) {
      lingering = true;
      lastGroup = 0;
      setTimeout(() => {
        lingering = false;
        pump();
      }, lingerMs);
      return;
    }
    let bytes = queue[0].bytes;
    let n = 1;
    while (n < queue.length && bytes + queue[n].bytes <= maxBytes) bytes += queue[n++].bytes;
    const group = n === queue.length ? queue : queue.slice(0, n);
    queue = n === queue.length ? [] : queue.slice(n);
    const records = group.length === 1 ? group[0].records : group.flatMap((w) => w.records);
    sending++;
    lastGroup = group.length;
    if (hopTrace.on) stampFlushed(group, records.length);
    let sent: Promise<void>;
    try {
      sent = inner.send(records);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent
      .then(
        () => {
          if (hopTrace.on) stampAcked(group);
          for (const w of group) w.resolve();
        },
        (err: unknown) => {
          for (const w of group) w.reject(err);
        },
      )
      .finally(() => {
        sending--;
        // Nothing came during the send: no load, the next request goes at once.
        if (queue.length === 0) lastGroup = 0;
        pump();
      });
  };

  return {
    send(records) {
      let bytes = 0;
      for (const r of records) bytes += r.key.length + r.value.length;
      return new Promise<void>((resolve, reject) => {
        const hops = hopTrace.on ? hopStore.getStore() : undefined;
        if (hops) {
          hops.queued = performance.now();
          hops.ahead = queue.length + (sending >= maxSends ? 1 : 0);
        }
        queue.push({ records, bytes, resolve, reject, hops });
        pump();
      });
    },
    isAvailable: () => inner.isAvailable(),
    close: () => inner.close(),
  };
}

function stampFlushed(group: { hops?: Hops }[], records: number): void {
  const now = performance.now();
  for (const w of group) {
    if (!w.hops) continue;
    w.hops.flushed = now;
    w.hops.group = group.length;
    w.hops.records = records;
  }
}

function stampAcked(group: { hops?: Hops }[]): void {
  const now = performance.now();
  for (const w of group) if (w.hops) w.hops.acked = now;
}
