/**
 * Logged-in users: `identify(userId)` puts `user_id` on every following event (across pages,
 * until `reset()`); `reset()` (log-out) starts a new visitor and session without it. An entry
 * point of its own so that sites without accounts do not ship it.
 *
 *   import { identify, reset } from '@clickstream/sdk/identify';
 */
export { identify, reset } from '../core.js';
