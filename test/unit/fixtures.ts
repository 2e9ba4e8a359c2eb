import { randomUUID } from 'node:crypto';
import type { ClientEvent } from '../../contracts/event-schema.js';

export const UA = {
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  windowsChrome: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
  androidSamsung:
    'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36',
  linuxFirefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
};

let n = 0;
export function pageView(over: Partial<ClientEvent> = {}): ClientEvent {
  n++;
  return {
    event_id: randomUUID(),
    type: 'page_view',
    ts: Date.now() - 1000,
    visitor_id: `v-${n % 7}`,
    session_id: `s-${n % 7}`,
    url: `https://shop.example/p/${n % 5}`,
    referrer: 'https://www.google.com/',
    ...over,
  } as ClientEvent;
}

export function addToCart(over: Record<string, unknown> = {}): ClientEvent {
  return {
    ...pageView(),
    type: 'add_to_cart',
    product_id: 'sku-1',
    product_name: 'Mug',
    price: 12.5,
    quantity: 2,
    currency: 'EUR',
    ...over,
  } as ClientEvent;
}

export function purchase(over: Record<string, unknown> = {}): ClientEvent {
  return {
    ...pageView(),
    type: 'purchase',
    order_id: `o-${randomUUID()}`,
    revenue: 25,
    currency: 'EUR',
    items: [{ product_id: 'sku-1', price: 12.5, quantity: 2 }],
    ...over,
  } as ClientEvent;
}
