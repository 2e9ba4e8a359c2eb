import type { EnrichedEvent } from '../../contracts/event-schema.js';

/**
 * The fields of an enriched event the analytics role reads: the engine (KPI windows, sessions,
 * URL stats, repeats), the stream detectors of the alerts sink, and the readability check of
 * processor/readable.ts. The role parses only these (processor/layout-parse.ts), so every sink
 * of the role takes an `AnalyticsEvent`: reading any other field does not compile.
 */
export const ANALYTICS_FIELDS = [
  'event_id',
  'event_type',
  'site_id',
  'visitor_id',
  'session_id',
  'timestamp',
  'received_at',
  'url',
  'browser',
  'device_type',
  'is_bot',
  'ip',
  'country',
  'engagement_ms',
  'currency',
  'revenue',
] as const satisfies readonly (keyof EnrichedEvent)[];

export type AnalyticsEvent = Pick<EnrichedEvent, (typeof ANALYTICS_FIELDS)[number]>;
