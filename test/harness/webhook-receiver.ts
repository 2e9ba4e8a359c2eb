/**
 * An alert webhook receiver on loopback, as a user would write one: it records every delivery
 * (alert id header, signature header, raw body) and `verifies` checks the HMAC of the raw body
 * before anything parses it. `status` sets what it answers (a failing receiver: 503); only the
 * requests answered 2xx are deliveries, every request is in `requests`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookDelivery {
  id: string | undefined;
  signature: string | undefined;
  body: string;
}

export interface WebhookReceiver {
  /** The URL to give as ALERT_WEBHOOK_URL. */
  url: string;
  /** Every delivery so far (answered 2xx), in arrival order. */
  deliveries: WebhookDelivery[];
  /** Every request so far, with the status it was answered. */
  requests: (WebhookDelivery & { status: number })[];
  /** Sets the status answered from now on (204 at start). */
  status(code: number): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const deliveries: WebhookDelivery[] = [];
  const requests: (WebhookDelivery & { status: number })[] = [];
  let answer = 204;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const d = { id: req.headers['x-clickstream-alert-id'] as string | undefined, signature: req.headers['x-clickstream-signature'] as string | undefined, body: Buffer.concat(chunks).toString('utf8') };
      const status = answer;
      requests.push({ ...d, status });
      if (status >= 200 && status < 300) deliveries.push(d);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    deliveries,
    requests,
    status: (code) => void (answer = code),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** True when the delivery's signature is the HMAC-SHA256 of its raw body with `secret`. */
export function verifies(secret: string, d: WebhookDelivery): boolean {
  const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(d.body).digest('hex')}`);
  const got = Buffer.from(d.signature ?? '');
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Webhook settings for a processor under test: retried every few hundred ms, never given up within a test. */
export const webhookTo = (url: string, secret: string) => ({
  alertWebhookUrl: url,
  alertWebhookSecret: secret,
  alertWebhookMaxAttempts: 1000,
  alertWebhookRetryBaseMs: 200,
  alertWebhookRetryMaxS: 1,
  alertWebhookPollMs: 200,
});
