/**
 * Webhook delivery of alerts: one POST per alert, JSON body (the alert document), headers
 * `X-Clickstream-Alert-Id` (the alert id: receivers deduplicate on it, as a delivery may be
 * repeated) and, when a secret is set, `X-Clickstream-Signature: sha256=<hex HMAC-SHA256 of the
 * exact body>`. A delivery that fails (network error, timeout, non-2xx) is retried with backoff
 * doubling from 1 s up to 5 min, up to `maxAttempts`.
 */
import { createHmac } from 'node:crypto';
import type { AlertDoc } from '../../contracts/documents.js';
import { sleep } from '../../common/wait.js';

export interface WebhookOptions {
  url: string;
  secret: string;
  timeoutMs: number;
  maxAttempts: number;
  /** First retry delay, ms (tests shorten it). */
  baseDelayMs?: number;
  log?: { warn: (o: object, msg: string) => void; error: (o: object, msg: string) => void };
}

export const SIGNATURE_HEADER = 'x-clickstream-signature';
export const ALERT_ID_HEADER = 'x-clickstream-alert-id';

/** The signature header's value for a body. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Delivers one alert; resolves true once a 2xx was received, false after the last attempt failed. */
export async function deliver(alert: AlertDoc, o: WebhookOptions): Promise<boolean> {
  const body = JSON.stringify(alert);
  const headers: Record<string, string> = { 'content-type': 'application/json', [ALERT_ID_HEADER]: alert.alert_id };
  if (o.secret) headers[SIGNATURE_HEADER] = signBody(o.secret, body);
  let delay = o.baseDelayMs ?? 1000;
  for (let attempt = 1; attempt <= o.maxAttempts; attempt++) {
    try {
      const res = await fetch(o.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(o.timeoutMs) });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return true;
      o.log?.warn({ alert: alert.alert_id, status: res.status, attempt }, 'alert webhook refused');
    } catch (err) {
      o.log?.warn({ alert: alert.alert_id, err: (err as Error).message, attempt }, 'alert webhook failed');
    }
    if (attempt < o.maxAttempts) {
      await sleep(delay);
      delay = Math.min(delay * 2, 300_000);
    }
  }
  o.log?.error({ alert: alert.alert_id, attempts: o.maxAttempts }, 'alert webhook gave up');
  return false;
}
