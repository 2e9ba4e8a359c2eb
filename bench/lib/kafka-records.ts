import { logLevel } from 'kafkajs';
import { kafkaFromConfig } from '../../common/kafka-client.js';
import { EVENT_TOPICS } from '../../contracts/topics.js';
import type { KafkaBroker } from '../../infra/kafka.js';
import { clientSettings } from './secure.js';

/** Records held in the event topics (high minus low watermark summed): the bench's check that nothing acknowledged is missing. */
export async function kafkaRecords(broker: KafkaBroker): Promise<number> {
  const admin = kafkaFromConfig(clientSettings(broker.clientConfig), 'bench', undefined, { logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    let n = 0;
    for (const t of EVENT_TOPICS) for (const p of await admin.fetchTopicOffsets(t)) n += Number(p.high) - Number(p.low);
    return n;
  } finally {
    await admin.disconnect();
  }
}
