import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The gateway's Prometheus metrics, one registry per app so tests can build several. A gateway of
 * several processes answers a scrape with their sum (cluster-metrics.ts): counters and histograms
 * add up; each gauge says how it does (`aggregator`, summed when not given).
 */
export function gatewayMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gateway_' });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'gateway_requests_total',
      help: 'HTTP requests by route, method and status (every answer, errors and preflights included)',
      labelNames: ['route', 'method', 'status'],
      registers,
    }),
    errors: new Counter({ name: 'gateway_errors_total', help: 'Refused requests by error code', labelNames: ['code'], registers }),
    accepted: new Counter({ name: 'gateway_events_accepted_total', help: 'Events acknowledged by Kafka, by type', labelNames: ['type'], registers }),
    rejected: new Counter({ name: 'gateway_events_rejected_total', help: 'Events refused (and dead-lettered), by reason code', labelNames: ['code'], registers }),
    duplicates: new Counter({ name: 'gateway_events_duplicate_total', help: 'Events dropped as already accepted', registers }),
    dropped: new Counter({ name: 'gateway_events_dropped_total', help: 'Valid events deliberately not stored, by reason (bot with BOT_POLICY=drop)', labelNames: ['reason'], registers }),
    bots: new Counter({ name: 'gateway_bot_events_total', help: 'Valid events from bots, by what BOT_POLICY did with them', labelNames: ['action'], registers }),
    deadLetters: new Counter({ name: 'gateway_dead_letters_total', help: 'Records written to the dead-letter topic, by code', labelNames: ['code'], registers }),
    deadLettersLost: new Counter({
      name: 'gateway_dead_letters_lost_total',
      help: 'Dead letters of whole bodies (malformed JSON, bad envelope) that could not be written because Kafka was unavailable',
      registers,
    }),
    pixels: new Counter({ name: 'gateway_pixel_requests_total', help: 'GET /v1/p.gif hits by outcome', labelNames: ['outcome'], registers }),
    produceSeconds: new Histogram({
      name: 'gateway_produce_seconds',
      help: 'Time from send to Kafka acknowledgement, per request batch',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    produceFailures: new Counter({
      name: 'gateway_produce_failures_total',
      help: 'Requests answered 503 for want of Kafka, by reason (unavailable, overloaded, timeout, error)',
      labelNames: ['reason'],
      registers,
    }),
    shed: new Counter({
      name: 'gateway_shed_requests_total',
      help: 'Requests refused with 503 GW_ERR_OVERLOADED before their body was read, by reason (loop_lag, waited, queue_delay, expected_delay, requests, bytes; acceptor: shed by the acceptor process, every gateway process overloaded (shedding or saturated) or none ready yet; acceptor_busy: shed by it while a process had room but its hand-over channel could not take the new connection in time)',
      labelNames: ['reason'],
      registers,
    }),
    queueSeconds: new Histogram({
      name: 'gateway_queue_seconds',
      help: 'Time an admitted ingest request spent from its arrival to its answer, less its body\'s upload: the wait before the gateway read it (as far as it can tell: since its connection was accepted, or since its loop turn began), validation, waiting for the CPU and for Kafka',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    loopTurnSeconds: new Histogram({
      name: 'gateway_loop_turn_seconds',
      help: 'How long each event-loop turn that read requests kept the loop from polling again: a request arriving meanwhile waits that long unread',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    handoverSeconds: new Histogram({
      name: 'gateway_handover_seconds',
      help: 'Behind the acceptor: time from the acceptor taking a connection (its accept, or its read of the request it hands over with) to this process getting it over the IPC channel',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    acceptorLoopDelaySeconds: new Histogram({
      name: 'gateway_acceptor_loop_delay_seconds',
      help: "Behind the acceptor: the acceptor process's longest event-loop delay of each second (a new connection waits about that long in the kernel's accept queue, a shed request for its answer)",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    loopBusy: new Gauge({ name: 'gateway_event_loop_busy_ratio', help: 'Share of the last quarter second the event loop was busy (event-loop utilisation; of several gateway processes, the busiest)', aggregator: 'max', registers }),
    connections: new Gauge({ name: 'gateway_connections', help: 'Open client connections (of every gateway process)', registers }),
    requestsHeld: new Gauge({ name: 'gateway_requests_in_flight', help: 'Ingest requests admitted and not yet answered', registers }),
    queueOldestSeconds: new Gauge({ name: 'gateway_queue_oldest_seconds', help: 'Age of the oldest admitted ingest request not yet answered (of every gateway process)', aggregator: 'max', registers }),
    queuedBytes: new Gauge({ name: 'gateway_queued_bytes', help: 'Request-body bytes held by admitted, unanswered ingest requests', registers }),
    inFlight: new Gauge({ name: 'gateway_events_in_flight', help: 'Events waiting for a Kafka acknowledgement', registers }),
    kafkaAvailable: new Gauge({ name: 'gateway_kafka_available', help: '1 while the gateway believes Kafka takes events, 0 while it answers 503 (of several gateway processes: 0 while any one does)', aggregator: 'min', registers }),
    dedupEntries: new Gauge({ name: 'gateway_dedup_entries', help: 'Event ids remembered for deduplication (each gateway process remembers its own: the sum)', registers }),
  };
}
export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;
