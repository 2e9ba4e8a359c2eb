/** A record for the log: the key decides the partition (we key by visitor id). */
export interface OutRecord {
  topic: string;
  key: string;
  value: string;
}

/**
 * What the gateway needs from Kafka, kept small so kafkajs can be swapped for a maintained
 * client without touching the HTTP code.
 */
export interface EventProducer {
  /** Called once per request with every record of the batch; resolves when all are acknowledged (acks=all). */
  send(records: OutRecord[]): Promise<void>;
  /** Called by /readyz and before each request: false while the broker is known to be unreachable. */
  isAvailable(): boolean;
  /** Called once when the app closes, after in-flight sends have settled. */
  close(): Promise<void>;
}
