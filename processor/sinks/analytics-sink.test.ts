/**
 * The analytics sink's KPI writes between flushes (KPI_EMIT_BETWEEN_FLUSHES): the open KPI windows
 * go out on their own timer, with the bulk's refresh parameter, without sealing anything or moving
 * the commit point, and never land after a later final document of the same window. Elasticsearch
 * is a fake here (what each bulk carried, in order); processor.integration.test.ts runs the sink
 * against the real one.
 */
import type { Client } from '@elastic/elasticsearch';
import { describe, expect, test } from 'vitest';
import { tumbling } from '../../contracts/windows.js';
import { sleep, waitFor } from '../../common/wait.js';
import { enriched } from '../../test/harness/traffic.js';
import type { BulkRefresh } from '../es-bulk.js';
import { analyticsSink, type AnalyticsSinkOptions } from './analytics-sink.js';
import { kpiTracer, type KpiTrace, type KpiTracer } from './kpi-trace.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const TOPIC = 'page_views';
const PREFIX = 'cs-t';
const TUMBLING_ALL = `tumbling_1m|${new Date(T0).toISOString()}|all|all|0`;

interface Bulk {
  index: string;
  docs: { id: string; doc: Record<string, unknown> }[];
  refresh: unknown;
  done: boolean;
}

/** A client whose bulk helper records every request; while `hold` is set, KPI bulks wait for it. */
function fakeEs() {
  const bulks: Bulk[] = [];
  // `holdIf`: which KPI bulks `hold` holds (default all).
  const state: { hold: Promise<void> | null; holdIf: (b: Bulk) => boolean; refuse: (id: string) => boolean } = { hold: null, holdIf: () => true, refuse: () => false };
  const client = {
    helpers: {
      bulk: async (o: { datasource: unknown[]; onDocument: (d: unknown) => unknown; refresh?: unknown; onDrop: (d: unknown) => void }) => {
        const rec: Bulk = { index: '', docs: [], refresh: o.refresh, done: false };
        bulks.push(rec);
        for (const d of o.datasource) {
          const [action, body] = o.onDocument(d) as [{ index: { _index: string; _id: string } }, Record<string, unknown>];
          rec.index = action.index._index;
          rec.docs.push({ id: action.index._id, doc: body });
        }
        if (state.hold && rec.index === `${PREFIX}-kpis` && state.holdIf(rec)) await state.hold;
        for (const d of rec.docs) {
          if (state.refuse(d.id)) o.onDrop({ status: 400, error: { type: 'document_parsing_exception', reason: 'refused' }, operation: { index: { _index: rec.index, _id: d.id } }, document: d.doc });
        }
        rec.done = true;
        return { total: o.datasource.length, failed: 0 };
      },
    },
  } as unknown as Client;
  return { client, bulks, state, kpiBulks: () => bulks.filter((b) => b.index === `${PREFIX}-kpis`) };
}

function sink(client: Client, between: boolean, refresh: BulkRefresh = true, refused: string[] = [], trace: KpiTracer | null = null, sessionBulkDocs = 0, more: Partial<AnalyticsSinkOptions> = {}) {
  const s = analyticsSink({
    trace,
    onReject: (_kind, doc) => refused.push(`${String(doc.window_kind)}|${String(doc.dimension)}|${String(doc.final)}`),
    client,
    indexPrefix: PREFIX,
    topics: [TOPIC],
    engine: { windows: [tumbling(60_000)], urlWindowMs: 60_000, latenessMs: 10_000, sessionGapMs: 600_000, excludeBots: true },
    emitIntervalMs: 20,
    // Sessions and URL windows only when a flush is asked to write them: the first flush.
    sessionEmitIntervalMs: 1_000_000,
    kpiEmitBetweenFlushes: between,
    kpiRefresh: refresh,
    sessionBulkDocs,
    ...more,
  });
  s.assign([{ topic: TOPIC, partition: 0, committed: null, checkpoint: undefined }]);
  return s;
}

const view = (i: number, ms: number, site = 'shop') =>
  enriched({ event_id: `e${i}`, event_type: 'page_view', timestamp: new Date(ms).toISOString(), visitor_id: `v${i}`, session_id: `s${i}`, url: '/a', country: 'FR', site_id: site });
const at = (offset: number) => ({ topic: TOPIC, partition: 0, offset: String(offset) });

/** A sink with the KPI timer whose first bulk (the window of `view(0)`) is held in flight until `release`. */
async function heldBulk(trace: KpiTracer | null = null) {
  const es = fakeEs();
  const s = sink(es.client, true, true, [], trace);
  let release = () => {};
  es.state.hold = new Promise<void>((ok) => (release = ok));
  s.add(view(0, T0 + 5_000), at(0));
  await waitFor(() => es.kpiBulks().length === 1, 'the timer bulk in flight', 5_000, 10);
  return { es, s, release: () => release() };
}

describe('analytics sink: open KPI windows written between flushes', () => {
  test('the timer writes the changed open windows with the refresh parameter, and moves no commit point', async () => {
    const es = fakeEs();
    const s = sink(es.client, true, 'wait_for');
    try {
      await s.flush();
      const committable = s.committableOffset(TOPIC, 0);
      s.add(view(0, T0 + 5_000), at(0));
      s.add(view(1, T0 + 6_000), at(1));
      const bulk = await waitFor(() => es.kpiBulks().find((b) => b.docs.some((d) => d.id === TUMBLING_ALL)), 'a KPI bulk between flushes', 5_000, 10);
      expect(bulk.refresh).toBe('wait_for');
      expect(bulk.docs.find((d) => d.id === TUMBLING_ALL)?.doc).toMatchObject({ page_views: 2, unique_visitors: 2, final: false });
      // Only KPI windows: sessions and URL stats wait for a flush.
      expect(es.bulks.every((b) => b.index === `${PREFIX}-kpis`)).toBe(true);
      expect(s.committableOffset(TOPIC, 0)).toBe(committable);
      // Unchanged windows are not written again.
      const before = es.kpiBulks().length;
      await sleep(100);
      expect(es.kpiBulks().length).toBe(before);
      s.add(view(2, T0 + 7_000), at(2));
      await waitFor(() => es.kpiBulks().find((b) => b.docs.some((d) => d.id === TUMBLING_ALL && d.doc.page_views === 3)), 'the next change written', 5_000, 10);
    } finally {
      await s.stop();
    }
  });

  test('a provisional value in flight is written before the final one of the same window', async () => {
    const { es, s, release } = await heldBulk();
    try {
      // An event two minutes later, and the topic read to its end: the watermark passes the window.
      s.add(view(1, T0 + 120_000), at(1));
      s.logOffsets(TOPIC, 0, '0', '2');
      s.logOffsetsDone();
      const flushed = s.flush();
      await sleep(100);
      // The flush's KPI bulk (the final document) waits for the provisional one in flight.
      expect(es.kpiBulks().length).toBe(1);
      expect(es.kpiBulks()[0].done).toBe(false);
      release();
      await flushed;
      const writes = es.kpiBulks().flatMap((b) => b.docs.filter((d) => d.id === TUMBLING_ALL).map((d) => d.doc));
      expect(writes.at(0)).toMatchObject({ final: false, page_views: 1 });
      expect(writes.at(-1)).toMatchObject({ final: true, page_views: 1 });
      expect(es.kpiBulks().every((b) => b.done && b.refresh === true)).toBe(true);
    } finally {
      release();
      await s.stop();
    }
  });

  test('with the timer, a flush writes sessions and final KPI windows but leaves the open ones to the timer; the last flush after stop writes them', async () => {
    const es = fakeEs();
    const s = sink(es.client, true);
    let release = () => {};
    try {
      s.add(view(0, T0 + 5_000), at(0));
      await waitFor(() => es.kpiBulks().find((b) => b.done && b.docs.some((d) => d.id === TUMBLING_ALL)), 'the timer wrote the window', 5_000, 10);
      // Hold the timer's bulks: a change made now reaches Elasticsearch only through a flush.
      es.state.hold = new Promise<void>((ok) => (release = ok));
      s.add(view(1, T0 + 6_000), at(1));
      await waitFor(() => es.kpiBulks().some((b) => !b.done), 'the timer bulk held', 5_000, 10);
      const before = es.bulks.length;
      const flushed = s.flush();
      release();
      await flushed;
      const flushBulks = es.bulks.slice(before).filter((b) => b.index !== `${PREFIX}-kpis`);
      expect(flushBulks.flatMap((b) => b.docs).some((d) => d.id === 's1')).toBe(true);
      // No KPI bulk of the flush carried the open window (the timer's held one did).
      expect(es.kpiBulks().filter((b) => b.docs.some((d) => d.id === TUMBLING_ALL && d.doc.page_views === 2))).toHaveLength(1);
      s.add(view(2, T0 + 7_000), at(2));
      await s.stop();
      await s.flush();
      expect(es.kpiBulks().at(-1)?.docs.find((d) => d.id === TUMBLING_ALL)?.doc).toMatchObject({ page_views: 3, final: false });
    } finally {
      release();
      await s.stop();
    }
  });

  test('a tick while the timer\'s bulk is in flight writes the windows changed meanwhile as soon as it ends', async () => {
    const { es, s, release } = await heldBulk();
    try {
      s.add(view(1, T0 + 6_000), at(1));
      // Several ticks (20 ms) pass while it is held: none starts a second bulk.
      await sleep(100);
      expect(es.kpiBulks()).toHaveLength(1);
      es.state.hold = null;
      release();
      const next = await waitFor(() => es.kpiBulks()[1], 'the next bulk', 5_000, 1);
      expect(next.docs.find((d) => d.id === TUMBLING_ALL)?.doc).toMatchObject({ page_views: 2 });
    } finally {
      release();
      await s.stop();
    }
  });

  test('a document refused between flushes is reported, like a flush\'s', async () => {
    const es = fakeEs();
    const refused: string[] = [];
    const s = sink(es.client, true, true, refused);
    es.state.refuse = (id) => id === TUMBLING_ALL;
    try {
      s.add(view(0, T0 + 5_000), at(0));
      await waitFor(() => refused.length > 0, 'the refusal reported', 5_000, 10);
      expect(refused).toEqual(['tumbling_1m|all|false']);
    } finally {
      await s.stop();
    }
  });

  test('without the timer, open windows wait for the next flush', async () => {
    const es = fakeEs();
    const s = sink(es.client, false);
    try {
      s.add(view(0, T0 + 5_000), at(0));
      await sleep(100);
      expect(es.bulks.length).toBe(0);
      await s.flush();
      expect(es.kpiBulks().flatMap((b) => b.docs).find((d) => d.id === TUMBLING_ALL)?.doc).toMatchObject({ page_views: 1, final: false });
    } finally {
      await s.stop();
    }
  });

  test('a traced site\'s event is reported once the bulk carrying its site document is acknowledged, each step at or after the one before', async () => {
    const traces: KpiTrace[] = [];
    const { es, s, release } = await heldBulk(kpiTracer('probe-', 'tumbling_1m', (t) => traces.push(t)));
    try {
      // Counted while that bulk is in flight: it waits for it, and is reported only with its own.
      s.add(view(1, T0 + 6_000, 'probe-7'), { ...at(1), fetchedAt: Date.now() - 5 });
      s.add(view(2, T0 + 6_500, 'other'), at(2));
      await sleep(60);
      expect(traces).toEqual([]);
      release();
      const [t] = await waitFor(() => (traces.length ? traces : undefined), 'the probe reported', 5_000, 10);
      expect(traces).toHaveLength(1);
      expect(t).toMatchObject({ site: 'probe-7', eventId: 'e1', topic: TOPIC, partition: 0, offset: '1' });
      const steps = [t.fetchedAt, t.consumedAt, t.emittedAt, t.sentAt, t.ackedAt];
      expect(steps.every((x) => typeof x === 'number')).toBe(true);
      for (let i = 1; i < steps.length; i++) expect(steps[i]).toBeGreaterThanOrEqual(steps[i - 1] as number);
      const carrying = es.kpiBulks().find((b) => b.docs.some((d) => d.id === `tumbling_1m|${new Date(T0).toISOString()}|site|probe-7|0`));
      expect(carrying?.done).toBe(true);
      // Reported once: later bulks of the same document do not report it again.
      s.add(view(3, T0 + 7_000, 'probe-7'), at(3));
      await waitFor(() => (traces.length === 2 ? traces : undefined), 'the second probe event reported', 5_000, 10);
      expect(traces.map((x) => x.eventId)).toEqual(['e1', 'e3']);
    } finally {
      release();
      await s.stop();
    }
  });

  test('a flush sends its sessions and URL x country documents in bulks of at most SESSION_BULK_DOCS, one after another, each once; refusals reported once', async () => {
    const es = fakeEs();
    const refused: string[] = [];
    const s = sink(es.client, true, false, refused, null, 2);
    es.state.refuse = (id) => id === 's3';
    try {
      for (let i = 0; i < 5; i++) s.add(view(i, T0 + 5_000 + i), at(i));
      await s.flush();
      const others = es.bulks.filter((b) => b.docs.some((d) => !d.id.startsWith('tumbling_')));
      expect(others.map((b) => b.docs.length).every((n) => n <= 2)).toBe(true);
      // 5 sessions and 1 URL x country window, each in exactly one request, none mixed with KPI windows.
      const ids = others.flatMap((b) => b.docs.map((d) => d.id));
      expect(ids.filter((id) => /^s\d$/.test(id)).sort()).toEqual(['s0', 's1', 's2', 's3', 's4']);
      expect(ids.length).toBe(6);
      expect(new Set(ids).size).toBe(6);
      expect(others.every((b) => b.docs.every((d) => !d.id.startsWith('tumbling_')))).toBe(true);
      expect(others.every((b) => b.done)).toBe(true);
      expect(refused).toHaveLength(1);
    } finally {
      await s.stop();
    }
  });
  test('with SESSION_BULK_PER_INDEX a flush sends its sessions and its URL x country documents in requests of one index each, one after another', async () => {
    const es = fakeEs();
    const s = sink(es.client, true, false, [], null, 0, { sessionBulkPerIndex: true });
    try {
      for (let i = 0; i < 5; i++) s.add(view(i, T0 + 5_000 + i), at(i));
      await s.flush();
      const others = es.bulks.filter((b) => b.index !== `${PREFIX}-kpis`);
      expect(others.map((b) => b.index).sort()).toEqual([`${PREFIX}-sessions`, `${PREFIX}-url-stats`]);
      const sessions = others.find((b) => b.index === `${PREFIX}-sessions`)!;
      expect(sessions.docs.map((d) => d.id).sort()).toEqual(['s0', 's1', 's2', 's3', 's4']);
      expect(others.find((b) => b.index === `${PREFIX}-url-stats`)!.docs).toHaveLength(1);
    } finally {
      await s.stop();
    }
  });
  test('with an asynchronous KPI translog, a flush that wrote final KPI documents makes them durable before it returns (and fails if it cannot); other flushes do not', async () => {
    const es = fakeEs();
    const steps: string[] = [];
    let failSync = false;
    const syncKpis = async () => {
      // Every KPI bulk asked for so far has been acknowledged when the sync is made.
      steps.push(`sync after ${es.kpiBulks().filter((b) => b.done).length} of ${es.kpiBulks().length} KPI bulks`);
      if (failSync) throw new Error('flush refused');
    };
    const s = sink(es.client, true, false, [], null, 0, { syncKpis });
    try {
      s.add(view(0, T0 + 5_000), at(0));
      await waitFor(() => es.kpiBulks().find((b) => b.done), 'the timer wrote the open window', 5_000, 10);
      await s.flush();
      // Only provisional values so far: nothing to make durable.
      expect(steps).toEqual([]);
      // The watermark passes the window: the next flush writes it final.
      s.add(view(1, T0 + 120_000), at(1));
      s.logOffsets(TOPIC, 0, '0', '2');
      s.logOffsetsDone();
      failSync = true;
      await expect(s.flush()).rejects.toThrow('flush refused');
      failSync = false;
      // The retried flush writes the final documents again, then syncs.
      const before = es.kpiBulks().length;
      await s.flush();
      const finals = es.kpiBulks().slice(before).flatMap((b) => b.docs).filter((d) => d.id === TUMBLING_ALL);
      expect(finals.map((d) => d.doc.final)).toEqual([true]);
      expect(steps).toHaveLength(2);
      expect(steps.every((x) => /^sync after (\d+) of \1 KPI bulks$/.test(x))).toBe(true);
      await s.flush();
      expect(steps).toHaveLength(2);
    } finally {
      await s.stop();
    }
  });
  test('with KPI_BULK_LANES, a lane whose bulk is held holds back only its partitions\' windows, and still lands a window\'s values in order', async () => {
    const es = fakeEs();
    const s = sink(es.client, true, false, [], null, 0, { kpiBulkLanes: 2 });
    const ofPartition = (p: number) => (b: Bulk) => b.docs.some((d) => d.id.endsWith(`|${p}`));
    let release = () => {};
    es.state.hold = new Promise<void>((ok) => (release = ok));
    es.state.holdIf = ofPartition(0);
    const p1 = (offset: number) => ({ topic: TOPIC, partition: 1, offset: String(offset) });
    try {
      s.add(view(0, T0 + 5_000), at(0));
      await waitFor(() => es.kpiBulks().find((b) => ofPartition(0)(b) && !b.done), 'partition 0\'s bulk held', 5_000, 10);
      // Partition 1 is in the other lane: written while partition 0's bulk is held, in bulks of its own.
      s.add(view(1, T0 + 5_500), p1(0));
      await waitFor(() => es.kpiBulks().find((b) => b.done && ofPartition(1)(b)), 'partition 1 written', 5_000, 10);
      s.add(view(2, T0 + 6_000), p1(1));
      await waitFor(() => es.kpiBulks().find((b) => b.done && b.docs.some((d) => d.id === TUMBLING_ALL.replace(/0$/, '1') && d.doc.page_views === 2)), 'partition 1 written again', 5_000, 10);
      expect(es.kpiBulks().every((b) => !(ofPartition(0)(b) && ofPartition(1)(b)))).toBe(true);
      expect(es.kpiBulks().filter((b) => ofPartition(0)(b))).toHaveLength(1);
      // Partition 0's window sealed meanwhile: its final value waits for the provisional one held.
      s.add(view(3, T0 + 120_000), at(1));
      s.logOffsets(TOPIC, 0, '0', '2');
      s.logOffsets(TOPIC, 1, '0', '2');
      s.logOffsetsDone();
      const flushed = s.flush();
      await sleep(100);
      expect(es.kpiBulks().filter((b) => ofPartition(0)(b))).toHaveLength(1);
      release();
      await flushed;
      const writes = es.kpiBulks().flatMap((b) => b.docs.filter((d) => d.id === TUMBLING_ALL).map((d) => d.doc));
      expect(writes.at(0)).toMatchObject({ final: false, page_views: 1 });
      expect(writes.at(-1)).toMatchObject({ final: true, page_views: 1 });
    } finally {
      release();
      await s.stop();
    }
  });
});
