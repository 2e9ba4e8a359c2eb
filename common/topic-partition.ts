/** One key for a topic-partition in maps and sets (topic names cannot contain NUL). */
export const topicPartitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
