import { randomUUID } from 'node:crypto';
import type { ClientEvent } from '../../contracts/event-schema.js';
import type { RequestContext } from '../../gateway/enrich.js';
import { parseUserAgent } from '../../gateway/user-agent.js';

export const UA = {
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  windowsChrome: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
  androidSamsung:
    'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36',
  linuxFirefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80',
  macSafari: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15',
  samsungInternet:
    'Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36',
  firefoxAndroid: 'Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0',
  galaxyTab: 'Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36',
  chromeIos:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1',
  opera: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0',
  tizenTv:
    'Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36',
  xbox: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.124 Safari/537.36 Edge/44.18363.8131',
  chromebook: 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  bingbot: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  gptbot: 'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)',
  curl: 'curl/8.5.0',
  pythonRequests: 'python-requests/2.31.0',
  headlessChrome: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36',
  facebookPreview: 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
  googlebotSmartphone:
    'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
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

/** What the gateway knows of one request from an iPhone in Berlin (geo found, sent 0.5 s before it arrived). */
export const berlinRequest = (over: Partial<RequestContext> = {}): RequestContext => ({
  ua: parseUserAgent(UA.iphone),
  geo: { country: 'DE', region: 'BE', city: 'Berlin', timezone: 'Europe/Berlin', location: '52.5,13.4' },
  ip: '81.2.69.0',
  siteId: 'shop',
  receivedAt: 1_750_000_000_000,
  sentAt: 1_750_000_000_500,
  ...over,
});
