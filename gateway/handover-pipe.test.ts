import { describe, expect, test } from 'vitest';
import { HANDOVER_MAX_QUEUED, HANDOVER_MAX_WAIT_MS, HandoverPipe } from './handover-pipe.js';

describe('HandoverPipe: how many connections may wait for a process IPC channel', () => {
  test('open while nothing waits; before any delivery up to HANDOVER_MAX_QUEUED wait, and none once the oldest waited the bound', () => {
    let t = 0;
    const p = new HandoverPipe(() => t);
    expect(p.open).toBe(true);
    for (let i = 0; i < HANDOVER_MAX_QUEUED; i++) {
      expect(p.open).toBe(true);
      p.sent();
    }
    expect(p.open).toBe(false);
    p.delivered();
    expect(p.queued).toBe(HANDOVER_MAX_QUEUED - 1);
    // Delivered at once: the pace allows many, but the oldest has now waited the bound.
    t = HANDOVER_MAX_WAIT_MS;
    expect(p.open).toBe(false);
  });

  test('a channel delivering one socket per 30 ms turn lets one wait; a fast one again many', () => {
    let t = 0;
    const p = new HandoverPipe(() => t);
    // A busy process: each delivery 30 ms after the one before.
    for (let i = 0; i < 20; i++) {
      p.sent();
      p.sent();
      t += 30;
      p.delivered();
      t += 30;
      p.delivered();
    }
    expect(p.allowed).toBe(1);
    p.sent();
    expect(p.open).toBe(false);
    t += 30;
    p.delivered();
    expect(p.open).toBe(true);
    // It turns idle: deliveries within 0.1 ms.
    for (let i = 0; i < 40; i++) {
      p.sent();
      t += 0.1;
      p.delivered();
    }
    expect(p.allowed).toBeGreaterThanOrEqual(HANDOVER_MAX_QUEUED / 2);
    expect(p.queued).toBe(0);
  });

  test('a delivery without a send (a late callback) changes nothing', () => {
    const p = new HandoverPipe(() => 0);
    p.delivered();
    expect(p.queued).toBe(0);
    expect(p.allowed).toBe(HANDOVER_MAX_QUEUED);
  });
});
