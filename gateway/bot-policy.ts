import { ConfigError } from '../contracts/config.js';

/**
 * What happens to an event whose user agent is a bot (isbot's list, see user-agent.ts):
 * - flag: stored like any event with is_bot=true (device_type stays the device it claims), so KPIs can filter;
 * - route: produced to the `bots` topic instead of its type topic, out of every KPI's way;
 * - drop: not stored, but never silently: the response marks it "dropped" and
 *   gateway_events_dropped_total{reason="bot"} counts it.
 */
export const BOT_POLICIES = ['flag', 'route', 'drop'] as const;
export type BotPolicy = (typeof BOT_POLICIES)[number];

export function parseBotPolicy(value: string): BotPolicy {
  const v = value.trim().toLowerCase();
  if (v === 'drop-with-count') return 'drop';
  if ((BOT_POLICIES as readonly string[]).includes(v)) return v as BotPolicy;
  throw new ConfigError(`BOT_POLICY must be one of ${BOT_POLICIES.join(', ')}, got "${value}"`);
}
