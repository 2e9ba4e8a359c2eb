import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';
import type { GroupPartitionsAssigner } from '@platformatic/kafka';

/** The protocol name both clients announce, so members of either client agree on one assignor. */
export const CO_PARTITIONED_PROTOCOL = 'CoPartitionedAssigner';

/**
 * Gives partition number p of EVERY subscribed topic to the same member. Events are keyed by
 * visitor and the four event topics have the same partition count, so a visitor's page views,
 * clicks, carts and purchases all sit on partition p of their topics; sessions, unique visitors
 * and conversion need them in one place. (The clients' round-robin assigners spread the topics'
 * partitions independently.) Partition numbers are dealt round-robin over the sorted member ids.
 */
export function coPartitionedAssignment(memberIds: string[], partitionsByTopic: Map<string, number[]>): Map<string, Record<string, number[]>> {
  const ids = [...memberIds].sort();
  const numbers = new Set<number>();
  const byTopic = new Map<string, Set<number>>();
  for (const [topic, ps] of partitionsByTopic) {
    byTopic.set(topic, new Set(ps));
    for (const p of ps) numbers.add(p);
  }
  const sorted = [...numbers].sort((a, b) => a - b);
  const assignment = new Map<string, Record<string, number[]>>(ids.map((id) => [id, {}]));
  sorted.forEach((p, i) => {
    const member = assignment.get(ids[i % ids.length])!;
    for (const [topic, parts] of byTopic) {
      if (!parts.has(p)) continue;
      (member[topic] ??= []).push(p);
    }
  });
  return assignment;
}

/** The co-partitioned assignment as a kafkajs assigner (processor/consumer.ts). */
export const CoPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITIONED_PROTOCOL,
  version: 1,
  async assign({ members, topics }) {
    const byTopic = new Map(topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId)]));
    const assignment = coPartitionedAssignment(
      members.map((m) => m.memberId),
      byTopic,
    );
    return [...assignment].map(([memberId, a]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: a, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: CO_PARTITIONED_PROTOCOL, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
  },
});

/** The co-partitioned assignment as a @platformatic/kafka assigner (processor/platformatic-consumer.ts). */
export const coPartitionedPlatformaticAssigner: GroupPartitionsAssigner = (_current, members, topics, metadata) => {
  const byTopic = new Map<string, number[]>();
  for (const topic of [...topics].sort()) {
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    byTopic.set(
      topic,
      Array.from({ length: count }, (_, i) => i),
    );
  }
  const assignment = coPartitionedAssignment([...members.keys()], byTopic);
  return [...assignment].map(([memberId, a]) => ({
    memberId,
    assignments: new Map(Object.entries(a).map(([topic, partitions]) => [topic, { topic, partitions }])),
  }));
};
