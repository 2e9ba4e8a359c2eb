/**
 * Campaigns: the `utm_source`, `utm_medium`, `utm_campaign`, `utm_term` and `utm_content` of the
 * page that starts a session, sent with every event of that session (stored with the session, so
 * the site's other tabs send them too). The dashboard's UTM panel reads them. In both script-tag
 * builds; from npm, call it once before the first event:
 *
 *   import { utm } from '@clickstream/sdk/utm';
 *   utm();
 */
import { onSession } from '../core.js';

/** Only these reach the gateway (its schema refuses any other field), each cut to its 256 characters. */
const UTM = /^utm_(source|medium|campaign|term|content)$/;

/** Sends the landing page's utm_* parameters with each event of a session from now on. */
export function utm(): void {
  onSession(() => {
    const fields: Record<string, string> = {};
    new URLSearchParams(location.search).forEach((v, k) => {
      if (UTM.test(k)) fields[k] = v.slice(0, 256);
    });
    return fields;
  });
}
