/**
 * An alert webhook receiver on loopback, as a user would write one: it records every delivery
 * (alert id header, signature header, raw body) and `verifies` checks the HMAC of the raw body
 * before anything parses it.
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
  /** Every delivery so far, in arrival order. */
  deliveries: WebhookDelivery[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const deliveries: WebhookDelivery[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ id: req.headers['x-clickstream-alert-id'] as string | undefined, signature: req.headers['x-clickstream-signature'] as string | undefined, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    deliveries,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** True when the delivery's signature is the HMAC-SHA256 of its raw body with `secret`. */
export function verifies(secret: string, d: WebhookDelivery): boolean {
  const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(d.body).digest('hex')}`);
  const got = Buffer.from(d.signature ?? '');
  return got.length === want.length && timingSafeEqual(got, want);
}
