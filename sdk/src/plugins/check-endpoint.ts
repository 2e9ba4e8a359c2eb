/**
 * The "not the gateway" warning: the gateway always answers JSON, so an answer of another type is
 * a page, a proxy or a static host at the wrong URL. Said once in the console, with the endpoint
 * and the status: `clickstream: not the gateway at /v1/events?site=KEY 404`. In both script-tag
 * builds (the snippet's first hour); from npm:
 *
 *   import { checkEndpoint } from '@clickstream/sdk/check-endpoint';
 *   checkEndpoint();
 */
import { onAnswer } from '../core.js';

/** Warns once when the endpoint answers something that is not JSON. */
export function checkEndpoint(): void {
  let warned = 0;
  onAnswer((r, endpoint) => {
    if (!/json/.test(r.headers.get('content-type')!) && !warned++) console.warn('clickstream: not the gateway at', endpoint, r.status);
  });
}
