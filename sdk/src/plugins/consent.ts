/**
 * Consent from a consent manager: `consent(true)` sends what `init({ consent: 'hold' })` kept in
 * memory and starts storing; `consent(false)` drops it, forgets everything stored and stops
 * tracking. An entry point of its own so that sites without a consent banner do not ship it:
 * the core alone never sends while consent is on hold (see core.ts).
 *
 *   import { consent } from '@clickstream/sdk/consent';
 *   init({ siteKey: 'KEY', consent: 'hold' });
 *   consent(true);
 */
export { consent } from '../core.js';
