import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * Gives partition number p of EVERY subscribed topic to the same member. Events are keyed by
 * visitor and the four event topics have the same partition count, so a visitor's page views,
 * clicks, carts and purchases all sit on partition p of their topics; sessions, unique visitors
 * and conversion need them in one place. (kafkajs' round-robin assigner spreads the topics'
 * partitions independently.) Partition numbers are dealt round-robin over the sorted member ids.
 */
export const CoPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'CoPartitionedAssigner',
  version: 1,
  async assign({ members, topics }) {
    const ids = members.map((m) => m.memberId).sort();
    const numbers = new Set<number>();
    const byTopic = new Map<string, Set<number>>();
    for (const topic of topics) {
      const parts = new Set(cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId));
      byTopic.set(topic, parts);
      for (const p of parts) numbers.add(p);
    }
    const sorted = [...numbers].sort((a, b) => a - b);
    const assignment = new Map<string, Record<string, number[]>>(ids.map((id) => [id, {}]));
    sorted.forEach((p, i) => {
      const member = assignment.get(ids[i % ids.length])!;
      for (const topic of topics) {
        if (!byTopic.get(topic)!.has(p)) continue;
        (member[topic] ??= []).push(p);
      }
    });
    return ids.map((memberId) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: assignment.get(memberId)!, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: 'CoPartitionedAssigner', metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
  },
});
