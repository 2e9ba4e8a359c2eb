import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The gateway's Prometheus metrics, one registry per app so tests can build several. */
export function gatewayMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gateway_' });
  return {
    registry,
    requests: new Counter({ name: 'gateway_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [registry] }),
    accepted: new Counter({ name: 'gateway_events_accepted_total', help: 'Events acknowledged by Kafka', labelNames: ['type'], registers: [registry] }),
    rejected: new Counter({ name: 'gateway_events_rejected_total', help: 'Events refused, by reason code', labelNames: ['code'], registers: [registry] }),
    duplicates: new Counter({ name: 'gateway_events_duplicate_total', help: 'Events dropped as already accepted', registers: [registry] }),
    produceSeconds: new Histogram({
      name: 'gateway_produce_seconds',
      help: 'Time from send to Kafka acknowledgement',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    inFlight: new Gauge({ name: 'gateway_events_in_flight', help: 'Events waiting for a Kafka acknowledgement', registers: [registry] }),
  };
}
export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;
