/**
 * The shoppers of the dashboard e2e (dashboard-pipeline.e2e.test.ts): who they are (site, user agent,
 * client address and what geo makes of it, referrer, the clicks they make), the reverse proxy that
 * gives each its client address, and the init script that records every event their SDK sends.
 */
import http from 'node:http';

export const SITES = ['shop-eur', 'shop-jpy'];

export const UA = {
  windowsChrome: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  linuxFirefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  android: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
};

export type Step =
  | { go: string } // click the link to this demo page (index.html, product-mug.html ...)
  | { cart: true } // click "Add to cart" (the shop's own EUR call)
  | { checkout: true } // cart -> checkout -> place order -> thanks (EUR)
  | { sdk: 'addToCart' | 'purchase'; jpy: number }; // the shop's call to the SDK, in JPY; a purchase then opens thanks.html

export interface Shopper {
  name: string;
  site: string;
  /** undefined: Chromium's own headless user agent (a bot to the gateway). */
  ua?: string;
  /** Client address the gateway sees (X-Forwarded-For from a trusted proxy), and what geo makes of it. */
  ip: string;
  country: string;
  browser: string;
  os: string;
  device: string;
  bot?: boolean;
  /** First page, with its query string (the demo's own `site` parameter is added). */
  landing: string;
  /** The page the shopper came from (external referrer), if any. */
  referer?: string;
  steps: Step[];
}

export const SHOPPERS: Shopper[] = [
  { name: 'gb-desktop-buyer', site: 'shop-eur', ua: UA.windowsChrome, ip: '81.2.69.142', country: 'GB', browser: 'Chrome', os: 'Windows', device: 'desktop', landing: 'index.html', referer: 'https://www.google.com/', steps: [{ go: 'product-mug.html' }, { cart: true }, { checkout: true }] },
  { name: 'us-phone-campaign', site: 'shop-eur', ua: UA.iphone, ip: '8.8.8.8', country: 'US', browser: 'Mobile Safari', os: 'iOS', device: 'mobile', landing: 'index.html?utm_source=newsletter&utm_medium=email&utm_campaign=winter-sale', steps: [{ go: 'product-tee.html' }, { cart: true }, { go: 'cart.html' }] },
  { name: 'nl-firefox-browser', site: 'shop-eur', ua: UA.linuxFirefox, ip: '2.16.6.1', country: 'NL', browser: 'Firefox', os: 'Linux', device: 'desktop', landing: 'product-cap.html', steps: [{ go: 'index.html' }] },
  { name: 'jp-android-buyer', site: 'shop-jpy', ua: UA.android, ip: '133.242.187.207', country: 'JP', browser: 'Chrome', os: 'Android', device: 'mobile', landing: 'index.html', referer: 'https://news.ycombinator.com/', steps: [{ go: 'product-notebook.html' }, { sdk: 'addToCart', jpy: 1200 }, { sdk: 'purchase', jpy: 1200 }] },
  { name: 'gb-desktop-jpy-campaign', site: 'shop-jpy', ua: UA.windowsChrome, ip: '5.62.60.1', country: 'GB', browser: 'Chrome', os: 'Windows', device: 'desktop', landing: 'product-mug.html?utm_source=partner&utm_campaign=spring-promo', steps: [{ sdk: 'addToCart', jpy: 2400 }, { sdk: 'purchase', jpy: 2400 }, { go: 'index.html' }] },
  { name: 'headless-bot', site: 'shop-eur', ip: '8.8.4.4', country: 'US', browser: 'Chrome Headless', os: 'Linux', device: 'desktop', bot: true, landing: 'index.html', steps: [{ go: 'product-mug.html' }, { go: 'index.html' }] },
];

/** A reverse proxy to the gateway that says the client is `ip` (X-Forwarded-For); resolves with its port. */
export async function forwardingProxy(gatewayPort: number, ip: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const up = http.request({ host: '127.0.0.1', port: gatewayPort, method: req.method, path: req.url, headers: { ...req.headers, 'x-forwarded-for': ip } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Records the events of every body sent to the endpoint (one localStorage key per page, synchronous, so what a page beacons while it unloads is kept). */
export const RECORDER = `(() => {
  if (location.protocol !== 'http:') return;
  var KEY = 'e2e_sent.' + Date.now() + '.' + Math.random().toString(36).slice(2);
  var add = function (url, body) {
    if (!/\\/v1\\/events/.test(String(url)) || typeof body !== 'string') return;
    try {
      var list = JSON.parse(localStorage.getItem(KEY) || '[]');
      list.push.apply(list, JSON.parse(body).events || []);
      localStorage.setItem(KEY, JSON.stringify(list));
    } catch (e) {}
  };
  var f = window.fetch;
  window.fetch = function (input, init) { add(typeof input === 'string' ? input : input && input.url, init && init.body); return f.apply(this, arguments); };
  var b = navigator.sendBeacon.bind(navigator);
  navigator.sendBeacon = function (url, data) { add(url, data); return b(url, data); };
  try { sessionStorage.setItem('demo_panel', 'closed'); } catch (e) {}
})();`;

/** A wire event as the SDK sent it (the fields this test counts with). */
export interface WireEvent {
  event_id: string;
  type: string;
  visitor_id: string;
  session_id: string;
  ts: number;
  url: string;
  referrer?: string;
  engagement_ms?: number;
  currency?: string;
  revenue?: number;
  utm_campaign?: string;
}

/** A sent event with what the test set for its shopper. */
export interface Sent extends WireEvent {
  shopper: Shopper;
}
