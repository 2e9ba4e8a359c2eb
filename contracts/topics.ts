import type { EventType } from './event-schema.js';

/** One Kafka topic per event type (the names the seeds ask for), keyed by visitor id. */
export const TOPIC_BY_TYPE: Record<EventType, string> = {
  page_view: 'page_views',
  click: 'clicks',
  add_to_cart: 'add_to_cart',
  purchase: 'purchases',
};

export const EVENT_TOPICS: readonly string[] = Object.values(TOPIC_BY_TYPE);

/** Refused events with their reason (see DeadLetter in event-schema.ts). */
export const DEAD_LETTER_TOPIC = 'events_dead_letter';

/**
 * Events from bots when the gateway runs with BOT_POLICY=route: enriched like any event
 * (is_bot true), kept out of the event topics so KPIs never see them.
 */
export const BOTS_TOPIC = 'bots';

export const ALL_TOPICS: readonly string[] = [...EVENT_TOPICS, DEAD_LETTER_TOPIC, BOTS_TOPIC];

export function topicFor(type: EventType, prefix = ''): string {
  return prefix + TOPIC_BY_TYPE[type];
}
