import type { EnrichedEvent } from '../../contracts/event-schema.js';

/** What identifies a repeat (the same record twice on Kafka): the event id within its site. */
export const repeatKey = (e: Pick<EnrichedEvent, 'site_id' | 'event_id'>): string => `${e.site_id}\u0000${e.event_id}`;
