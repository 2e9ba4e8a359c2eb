import { describe, expect, test } from 'vitest';
import type { ClusterMetadata, ExtendedGroupProtocolSubscription } from '@platformatic/kafka';
import { coPartitionedAssignment, coPartitionedPlatformaticAssigner } from './assigner.js';

const TOPICS = ['page_views', 'clicks', 'add_to_cart', 'purchases'];

describe('co-partitioned assignment', () => {
  test('partition number p of every topic goes to one member, numbers dealt round-robin over sorted member ids', () => {
    const byTopic = new Map(TOPICS.map((t) => [t, [0, 1, 2, 3, 4, 5]]));
    const a = coPartitionedAssignment(['m-b', 'm-c', 'm-a'], byTopic);
    expect(a.get('m-a')).toEqual(Object.fromEntries(TOPICS.map((t) => [t, [0, 3]])));
    expect(a.get('m-b')).toEqual(Object.fromEntries(TOPICS.map((t) => [t, [1, 4]])));
    expect(a.get('m-c')).toEqual(Object.fromEntries(TOPICS.map((t) => [t, [2, 5]])));
  });

  test('a topic without some partition number gets only the numbers it has; a member beyond the numbers gets nothing', () => {
    const a = coPartitionedAssignment(['x', 'y', 'z'], new Map([['a', [0, 1]], ['b', [0]]]));
    expect(a.get('x')).toEqual({ a: [0], b: [0] });
    expect(a.get('y')).toEqual({ a: [1] });
    expect(a.get('z')).toEqual({});
  });

  test('the @platformatic/kafka assigner hands out the same assignment from the cluster metadata', () => {
    const topics = new Map(TOPICS.map((t) => [t, { id: t, partitions: [], partitionsCount: 3, lastUpdate: 0 }]));
    const metadata: ClusterMetadata = { id: 'c', brokers: new Map(), controllerId: 1, topics, lastUpdate: 0 };
    const members = new Map<string, ExtendedGroupProtocolSubscription>([
      ['m2', { memberId: 'm2', version: 1 }],
      ['m1', { memberId: 'm1', version: 1 }],
    ]);
    const out = coPartitionedPlatformaticAssigner('m1', members, new Set(TOPICS), metadata);
    const flat = Object.fromEntries(out.map((m) => [m.memberId, Object.fromEntries([...m.assignments].map(([t, g]) => [t, g.partitions]))]));
    expect(flat).toEqual({
      m1: Object.fromEntries([...TOPICS].sort().map((t) => [t, [0, 2]])),
      m2: Object.fromEntries([...TOPICS].sort().map((t) => [t, [1]])),
    });
  });
});
