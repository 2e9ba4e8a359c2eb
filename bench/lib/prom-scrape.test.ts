import { describe, expect, it } from 'vitest';
import { promSum } from './prom-scrape.js';

const scrape = (loopLag: number, le01: number, le1: number, inf: number) => `# HELP gateway_shed_requests_total Requests refused
# TYPE gateway_shed_requests_total counter
gateway_shed_requests_total{reason="loop_lag"} ${loopLag}
gateway_shed_requests_total{reason="requests"} 3
gateway_shed_requests_total_other 99
# TYPE gateway_queue_seconds histogram
gateway_queue_seconds_bucket{le="0.1"} ${le01}
gateway_queue_seconds_bucket{le="1"} ${le1}
gateway_queue_seconds_bucket{le="+Inf"} ${inf}
gateway_queue_seconds_sum 12.5
gateway_queue_seconds_count ${inf}
`;

describe('prom-scrape', () => {
  it('sums the samples of one series, by label', () => {
    const t = scrape(40, 0, 0, 0);
    expect(promSum(t, 'gateway_shed_requests_total')).toBe(43);
    expect(promSum(t, 'gateway_shed_requests_total', ['reason="loop_lag"'])).toBe(40);
    expect(promSum(t, 'gateway_shed_requests_total', ['reason="bytes"'])).toBe(0);
  });
});
