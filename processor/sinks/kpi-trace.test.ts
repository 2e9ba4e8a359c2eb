/** The KPI tracer alone: which documents carry a traced event, revocation, and the bound on events never emitted. */
import { describe, expect, test } from 'vitest';
import type { OutDoc } from '../analytics/engine-options.js';
import { kpiTracer, type KpiTrace } from './kpi-trace.js';

const doc = (dimension: string, value: string, partition = 0, kind = 'tumbling_1m'): OutDoc => ({ index: 'kpis', id: `${kind}|${dimension}|${value}|${partition}`, doc: { window_kind: kind, dimension, dimension_value: value, partition } as never });
const pos = (partition: number, offset: number) => ({ topic: 'page_views', partition, offset: String(offset) });

describe('KPI tracer', () => {
  test('off without a prefix', () => {
    expect(kpiTracer('', 'tumbling_1m', () => {})).toBeNull();
  });

  test.each([
    ['its site document in its partition', [doc('site', 'probe-1')], ['e1']],
    ['another partition', [doc('site', 'probe-1', 1)], []],
    ['a sliding window', [doc('site', 'probe-1', 0, 'sliding_5m_1m')], []],
    ['another dimension with the same value', [doc('country', 'probe-1')], []],
    ['another site', [doc('site', 'probe-2')], []],
  ])('a bulk carrying %s reports %j', (_what, docs, reported) => {
    const out: KpiTrace[] = [];
    let clock = 100;
    const t = kpiTracer('probe-', 'tumbling_1m', (x) => out.push(x), () => clock++);
    t?.consumed('probe-1', 'e1', pos(0, 7));
    t?.consumed('shop', 'e2', pos(0, 8));
    const traced = t?.emitted(docs) ?? null;
    t?.sent(traced);
    t?.acked(traced);
    expect(out.map((x) => x.eventId)).toEqual(reported);
    if (reported.length) expect(out[0]).toMatchObject({ consumedAt: 100, emittedAt: 101, sentAt: 102, ackedAt: 103, offset: '7' });
  });

  test('a revoked partition\'s events are forgotten; traces of events never emitted are bounded', () => {
    const out: KpiTrace[] = [];
    const t = kpiTracer('probe-', 'tumbling_1m', (x) => out.push(x));
    t?.consumed('probe-1', 'e1', pos(2, 1));
    t?.revoke(2);
    t?.acked(t.emitted([doc('site', 'probe-1', 2)]));
    expect(out).toEqual([]);
    // More events never emitted than the bound: the oldest are dropped, the newest still reported.
    for (let i = 0; i < 10_050; i++) t?.consumed(`probe-${i}`, `e${i}`, pos(0, i));
    t?.acked(t.emitted([doc('site', 'probe-0'), doc('site', 'probe-10049')]));
    expect(out.map((x) => x.eventId)).toEqual(['e10049']);
  });
});
