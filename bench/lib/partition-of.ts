/** Java's String.hashCode modulo `partitions`: enough to spread visitors over partitions like a key hash would. */
export function partitionOf(key: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
  return Math.abs(h) % partitions;
}
