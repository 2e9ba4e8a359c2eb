import { Counter, Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { MetricsAggregator, metricsClient, type MetricsMessage, type MetricsPeer } from './cluster-metrics.js';

/** A process's own registry: a counter and two gauges summed and taken at their lowest. */
function processRegistry(served: number, available: number) {
  const registry = new Registry();
  new Counter({ name: 'served_total', help: 'h', registers: [registry] }).inc(served);
  new Gauge({ name: 'in_flight', help: 'h', registers: [registry] }).set(served * 10);
  new Gauge({ name: 'available', help: 'h', aggregator: 'min', registers: [registry] }).set(available);
  return registry;
}

/** A process wired to the aggregator as workers.ts and server.ts wire it, over a synchronous "channel". */
function processOf(agg: MetricsAggregator, id: number, registry: Registry, answers = true) {
  const inbox: MetricsMessage[] = [];
  const peer: MetricsPeer = { id, send: (m) => (inbox.push(m), client.onMessage(m)) };
  const client = metricsClient(
    (m) => agg.onMessage(peer, m),
    () => (answers ? registry.getMetricsAsJSON() : new Promise(() => {})),
  );
  return { client, inbox };
}

afterEach(() => vi.useRealTimers());

describe('MetricsAggregator', () => {
  test('a page asked by either process is the sum of both (gauges by their own rule)', async () => {
    const agg = new MetricsAggregator();
    const a = processOf(agg, 1, processRegistry(5, 1));
    const b = processOf(agg, 2, processRegistry(4, 0));
    a.client.ready();
    b.client.ready();
    for (const asker of [a, b]) {
      const page = await asker.client.page();
      expect(page).toMatch(/\nserved_total 9\n/);
      expect(page).toMatch(/\nin_flight 90\n/);
      expect(page).toMatch(/\navailable 0\n/);
    }
  });

  test('a process not ready yet is left out; one that exits is left out from then on', async () => {
    const agg = new MetricsAggregator();
    const a = processOf(agg, 1, processRegistry(5, 1));
    processOf(agg, 2, processRegistry(4, 1));
    a.client.ready();
    expect(await a.client.page()).toMatch(/\nserved_total 5\n/);
    const c = processOf(agg, 3, processRegistry(7, 1));
    c.client.ready();
    expect(await a.client.page()).toMatch(/\nserved_total 12\n/);
    agg.remove(3);
    expect(await a.client.page()).toMatch(/\nserved_total 5\n/);
  });

  test('a ready process that does not answer fails the page (never a partial sum) within the bound', async () => {
    vi.useFakeTimers();
    const agg = new MetricsAggregator(5000);
    const a = processOf(agg, 1, processRegistry(5, 1));
    const b = processOf(agg, 2, processRegistry(4, 1), false);
    a.client.ready();
    b.client.ready();
    const page = a.client.page();
    const failed = expect(page).rejects.toThrow(/1 of the gateway's processes did not give their metrics within 5000 ms/);
    await vi.advanceTimersByTimeAsync(5000);
    await failed;
  });

  test('a process whose own metrics fail fails the page at once, with its reason', async () => {
    const agg = new MetricsAggregator(5000);
    const a = processOf(agg, 1, processRegistry(5, 1));
    const peer: MetricsPeer = { id: 2, send: (m) => broken.onMessage(m) };
    const broken = metricsClient(
      (m) => agg.onMessage(peer, m),
      () => Promise.reject(new Error('registry gone')),
    );
    a.client.ready();
    broken.ready();
    await expect(a.client.page()).rejects.toThrow(/a gateway process could not give its metrics: registry gone/);
  });

  test('a process exiting during a collection ends it with the others', async () => {
    const agg = new MetricsAggregator();
    const a = processOf(agg, 1, processRegistry(5, 1));
    const b = processOf(agg, 2, processRegistry(4, 1), false);
    a.client.ready();
    b.client.ready();
    const page = a.client.page();
    await Promise.resolve();
    agg.remove(2);
    expect(await page).toMatch(/\nserved_total 5\n/);
  });
});
