import { MAX_EPOCH_MS, type EventBatch } from '../contracts/event-schema.js';
import { GatewayError } from './errors.js';


/**
 * Accepts {events:[...], sent_at?}, a bare array of events, or one event object; anything
 * else is a whole-body refusal (400, or 413 over the batch limit).
 */
export function toBatch(body: unknown, maxEvents: number): { events: unknown[]; sentAt: number | null } {
  let events: unknown;
  let sentAt: unknown = null;
  if (Array.isArray(body)) events = body;
  else if (body && typeof body === 'object' && Object.hasOwn(body, 'events')) {
    ({ events, sent_at: sentAt = null } = body as Partial<EventBatch> & { events: unknown });
    const extra = Object.keys(body).filter((k) => k !== 'events' && k !== 'sent_at');
    if (extra.length) throw new GatewayError('GW_ERR_BATCH_INVALID', `unknown field(s) ${extra.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 64))).join(', ')}`);
  } else if (body && typeof body === 'object' && Object.hasOwn(body, 'type')) events = [body];
  else throw new GatewayError('GW_ERR_BATCH_INVALID');
  if (!Array.isArray(events)) throw new GatewayError('GW_ERR_BATCH_INVALID', '"events" must be an array');
  if (events.length === 0) throw new GatewayError('GW_ERR_BATCH_INVALID', '"events" is empty');
  if (events.length > maxEvents) throw new GatewayError('GW_ERR_BATCH_TOO_LARGE', `${events.length} events, at most ${maxEvents}`);
  if (sentAt !== null && (typeof sentAt !== 'number' || !Number.isFinite(sentAt) || sentAt < 0 || sentAt > MAX_EPOCH_MS)) {
    throw new GatewayError('GW_ERR_BATCH_INVALID', '"sent_at" must be epoch milliseconds');
  }
  return { events, sentAt: sentAt === null ? null : Math.trunc(sentAt as number) };
}
