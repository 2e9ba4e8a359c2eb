/**
 * patches/kafkajs+2.2.4.patch: kafkajs's request queue scheduled a check of its pending requests
 * after every answer, `throttledUntil - Date.now()` ms later; unthrottled, throttledUntil is -1, so
 * the delay was minus the epoch time (Node runs it after 1 ms and, from Node 24, prints
 * TimeoutNegativeWarning), and the check scheduled itself again: a timer every millisecond for as
 * long as the connection lived. Checked on the queue itself: no timer left after an answer, none
 * ever given a negative delay, and a request held back by a broker's throttle is still sent once
 * the throttle ends.
 */
import { createRequire } from 'node:module';
import { afterEach, expect, test, vi } from 'vitest';

interface Queue {
  push(r: { entry: ReturnType<typeof entry>; expectResponse: boolean; sendRequest(): void }): void;
  fulfillRequest(r: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number | null): void;
  destroy(): void;
  pending: unknown[];
  throttleCheckTimeoutId: unknown;
}

const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as new (o: object) => Queue;
const logger = { debug() {}, info() {}, warn() {}, error() {}, namespace: () => logger };
const queue = () => new RequestQueue({ maxInFlightRequests: null, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'test', broker: 'b:9092', logger });
const entry = (correlationId: number) => ({ correlationId, apiKey: 3, apiName: 'Metadata', apiVersion: 6, resolve() {}, reject() {} });

afterEach(() => vi.useRealTimers());

test('an answered request with nothing pending leaves no timer, and no delay is negative', () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  const delays: number[] = [];
  const real = globalThis.setTimeout;
  const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
    delays.push(ms ?? 0);
    return real(fn, ms);
  }) as typeof setTimeout);
  const q = queue();
  let sent = 0;
  for (let id = 1; id <= 3; id++) {
    q.push({ entry: entry(id), expectResponse: true, sendRequest: () => sent++ });
    q.fulfillRequest({ correlationId: id, payload: Buffer.alloc(0), size: 0 });
  }
  vi.advanceTimersByTime(100);
  spy.mockRestore();
  expect(sent).toBe(3);
  expect(q.throttleCheckTimeoutId).toBeNull();
  expect(vi.getTimerCount()).toBe(0);
  expect(delays.filter((d) => d < 1)).toEqual([]);
  q.destroy();
});

test('a request pushed while the broker throttles is held, then sent when the throttle ends', () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  const q = queue();
  q.push({ entry: entry(1), expectResponse: true, sendRequest: () => {} });
  q.maybeThrottle(500);
  let sent = false;
  q.push({ entry: entry(2), expectResponse: true, sendRequest: () => (sent = true) });
  expect(q.pending).toHaveLength(1);
  vi.advanceTimersByTime(400);
  expect(sent).toBe(false);
  vi.advanceTimersByTime(200);
  expect(sent).toBe(true);
  expect(q.pending).toHaveLength(0);
  q.destroy();
});
