/**
 * One webhook delivery attempt of an alert: a POST whose JSON body is the alert's ALERT_FIELDS (in
 * the table's order, so every attempt of an alert sends the same bytes), with headers
 * `X-Clickstream-Alert-Id` (the alert id: receivers deduplicate on it, as a delivery may be
 * repeated) and, when a secret is set, `X-Clickstream-Signature: sha256=<hex HMAC-SHA256 of the
 * exact body>`. Retries, backoff and the state across restarts are the outbox's
 * (processor/alerts/outbox.ts).
 */
import { createHmac } from 'node:crypto';
import { ALERT_FIELDS, fieldNames, type AlertDoc } from '../../contracts/documents.js';

export interface WebhookOptions {
  url: string;
  secret: string;
  timeoutMs: number;
}

export const SIGNATURE_HEADER = 'x-clickstream-signature';
export const ALERT_ID_HEADER = 'x-clickstream-alert-id';

const ALERT_KEYS = fieldNames(ALERT_FIELDS);

/** The signature header's value for a body. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The webhook body of an alert: its alert fields only (a document read back also carries its delivery state). */
export function alertBody(alert: AlertDoc): string {
  const src = alert as unknown as Record<string, unknown>;
  return JSON.stringify(Object.fromEntries(ALERT_KEYS.map((k) => [k, src[k] ?? null])));
}

export type AttemptResult = { ok: true } | { ok: false; error: string };

/** One POST of the alert; ok once a 2xx came back, else why not (status, network error, timeout). Never throws. */
export async function attemptDelivery(alert: AlertDoc, o: WebhookOptions): Promise<AttemptResult> {
  const body = alertBody(alert);
  const headers: Record<string, string> = { 'content-type': 'application/json', [ALERT_ID_HEADER]: alert.alert_id };
  if (o.secret) headers[SIGNATURE_HEADER] = signBody(o.secret, body);
  try {
    const res = await fetch(o.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(o.timeoutMs) });
    await res.arrayBuffer().catch(() => undefined);
    return res.ok ? { ok: true } : { ok: false, error: `HTTP ${res.status}` };
  } catch (err) {
    // fetch says only `fetch failed`: the reason (ECONNREFUSED, a timeout) is its cause.
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.cause?.code ?? e.cause?.message;
    return { ok: false, error: (why ? `${e.message}: ${why}` : e.message).slice(0, 300) };
  }
}
