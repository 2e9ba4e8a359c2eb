// @vitest-environment happy-dom
import { describe, expect, test, vi } from 'vitest';
import type { ClientEvent, ClickEvent, PageViewEvent } from '../../contracts/event-schema.js';
import { schemaErrors, sdkHooks, setHidden, T0, type Net, type Sdk } from './helpers.js';

let sdk: Sdk;
let net: Net;
let stop: (() => void) | undefined;
sdkHooks(
  (s, n) => {
    sdk = s;
    net = n;
    sdk.init({ siteKey: 'k', batchSize: 100 });
  },
  {
    before: () => {
      history.replaceState(null, '', '/');
      document.title = 'Home';
      document.body.innerHTML = '';
    },
    after: () => {
      stop?.();
      stop = undefined;
      setHidden(false);
    },
  },
);

/** Everything queued so far (sent or not), via a flush at the end. */
async function all(): Promise<ClientEvent[]> {
  sdk.flush();
  await vi.advanceTimersByTimeAsync(0);
  return net.requests.flatMap((r) => r.batch.events);
}

/**
 * A hash navigation as the browser does it: the URL changes at once, then `hashchange` fires.
 * happy-dom's own `location.hash = ...` updates the URL on a real timer (not the fake ones), which
 * under load lands after the test read the views; simulated instead, like back/forward below.
 */
function navigateHash(hash: string): void {
  History.prototype.replaceState.call(history, null, '', hash);
}

describe('auto page views', () => {
  test('one view at start, one per SPA route change (pushState, replaceState, popstate), with the previous route as referrer', async () => {
    const { autoPageviews } = await import('../src/plugins/auto-pageviews.js');
    stop = autoPageviews();
    history.pushState(null, '', '/products/1');
    document.title = 'Product 1';
    await vi.advanceTimersByTimeAsync(0);
    history.replaceState(null, '', '/products/1'); // same route: no view
    await vi.advanceTimersByTimeAsync(0);
    history.replaceState(null, '', '/products/2?color=red');
    await vi.advanceTimersByTimeAsync(0);
    history.pushState(null, '', '/cart');
    await vi.advanceTimersByTimeAsync(0);
    // Back: the browser restores the URL without the history API, then fires popstate (happy-dom's
    // history.back() navigates asynchronously, possibly into the next test: simulated instead).
    History.prototype.replaceState.call(history, null, '', '/products/2?color=red');
    dispatchEvent(new PopStateEvent('popstate'));
    await vi.advanceTimersByTimeAsync(0);
    const views = (await all()) as PageViewEvent[];
    const paths = views.map((e) => new URL(e.url).pathname + new URL(e.url).search);
    expect(views.every((e) => e.type === 'page_view')).toBe(true);
    expect(paths.slice(0, 4)).toEqual(['/', '/products/1', '/products/2?color=red', '/cart']);
    expect(views[1].referrer).toBe('http://localhost:3000/');
    expect(views[1].title).toBe('Product 1'); // read after the router set it
    expect(views[3].referrer).toBe('http://localhost:3000/products/2?color=red');
    expect(paths).toEqual(['/', '/products/1', '/products/2?color=red', '/cart', '/products/2?color=red']);
    expect(views[4].referrer).toBe('http://localhost:3000/cart');
  });

  test('hash routes (#/..., #!/...) are views; in-page anchors are not, unless hash: true', async () => {
    const { autoPageviews } = await import('../src/plugins/auto-pageviews.js');
    const H = 'http://localhost:3000/';
    // Each view is waited for before the next navigation (polled: under load a read right after
    // the navigation could come before the view was looked at, and two navigations not yet looked
    // at are one view by definition).
    const viewsAre = (urls: string[]) => vi.waitFor(async () => expect((await all()).map((e) => e.url)).toEqual(urls));
    stop = autoPageviews();
    navigateHash('#reviews');
    dispatchEvent(new HashChangeEvent('hashchange'));
    await vi.advanceTimersByTimeAsync(0);
    navigateHash('#/checkout');
    dispatchEvent(new HashChangeEvent('hashchange'));
    await viewsAre([H, `${H}#/checkout`]);
    navigateHash('#!/thanks');
    dispatchEvent(new HashChangeEvent('hashchange'));
    await viewsAre([H, `${H}#/checkout`, `${H}#!/thanks`]);

    stop();
    net.requests.length = 0;
    history.replaceState(null, '', '/');
    stop = autoPageviews({ hash: true });
    navigateHash('#reviews');
    dispatchEvent(new HashChangeEvent('hashchange'));
    await viewsAre([H, `${H}#reviews`]);
  });

  test('stopping restores history.pushState', async () => {
    const orig = history.pushState;
    const { autoPageviews } = await import('../src/plugins/auto-pageviews.js');
    autoPageviews()();
    expect(history.pushState).toBe(orig);
  });
});

describe('auto clicks', () => {
  test('links and buttons (also when the click lands on a child) are clicks; other elements are not', async () => {
    document.body.innerHTML = `
      <a id="nav-cart" href="/cart"><span>Your  cart</span></a>
      <button id="buy"><b>Add to cart</b></button>
      <button data-cs-click="hero-cta">Shop now</button>
      <input type="submit" value="Place order">
      <p id="para">text</p>`;
    const { autoClicks } = await import('../src/plugins/auto-clicks.js');
    stop = autoClicks();
    for (const sel of ['#nav-cart span', '#buy b', '[data-cs-click]', 'input', '#para']) (document.querySelector(sel) as HTMLElement).click();
    const clicks = (await all()) as ClickEvent[];
    expect(clicks.map((e) => [e.element, e.target_url])).toEqual([
      ['a#nav-cart "Your cart"', 'http://localhost:3000/cart'],
      ['button#buy "Add to cart"', undefined],
      ['hero-cta', undefined],
      ['input "Place order"', undefined],
    ]);
    for (const e of clicks) expect(schemaErrors(e)).toEqual([]);
  });

  test('a custom selector; stop() removes the listener', async () => {
    document.body.innerHTML = `<div class="tile" id="t1">Tile</div><a href="/x">x</a>`;
    const { autoClicks } = await import('../src/plugins/auto-clicks.js');
    stop = autoClicks({ selector: '.tile' });
    (document.querySelector('.tile') as HTMLElement).click();
    (document.querySelector('a') as HTMLElement).click();
    stop();
    (document.querySelector('.tile') as HTMLElement).click();
    expect(((await all()) as ClickEvent[]).map((e) => e.element)).toEqual(['div#t1 "Tile"']);
  });
});

describe('engagement time', () => {
  test('visible time is sent when the page is hidden, as a beacon, and only visible time counts', async () => {
    const { engagement } = await import('../src/plugins/engagement.js');
    stop = engagement();
    await vi.advanceTimersByTimeAsync(12_000);
    setHidden(true); // 12 s visible
    expect(net.beacons).toHaveLength(1);
    const [ping] = net.beacons[0].batch.events as PageViewEvent[];
    expect(ping).toMatchObject({ type: 'page_view', url: 'http://localhost:3000/', title: 'Home', engagement_ms: 12_000 });
    expect(schemaErrors(ping)).toEqual([]);

    await vi.advanceTimersByTimeAsync(60_000); // hidden: does not count
    setHidden(false);
    await vi.advanceTimersByTimeAsync(3000);
    dispatchEvent(new Event('pagehide')); // 3 s more
    const pings = net.beacons.flatMap((b) => b.batch.events as PageViewEvent[]).filter((e) => e.engagement_ms);
    expect(pings.map((e) => e.engagement_ms)).toEqual([12_000, 3000]);
  });

  test('an SPA route change reports the route being left; short visits (< minMs) are not reported', async () => {
    const { engagement } = await import('../src/plugins/engagement.js');
    stop = engagement({ minMs: 1000 });
    await vi.advanceTimersByTimeAsync(5000);
    history.pushState(null, '', '/products/1');
    await vi.advanceTimersByTimeAsync(500);
    history.pushState(null, '', '/cart');
    await vi.advanceTimersByTimeAsync(2000);
    setHidden(true);
    const pings = [...(await all()), ...net.beacons.flatMap((b) => b.batch.events)] as PageViewEvent[];
    expect(pings.map((e) => [new URL(e.url).pathname, e.engagement_ms, e.ts - T0])).toEqual([
      ['/', 5000, 5000],
      ['/cart', 2000, 7500],
    ]);
  });

  test('one definition of a view for both plugins: anchors and hashes set by replaceState are not views, the report is for the URL the view was counted with', async () => {
    const { autoPageviews } = await import('../src/plugins/auto-pageviews.js');
    const { engagement } = await import('../src/plugins/engagement.js');
    const stops = [autoPageviews(), engagement()];
    stop = () => stops.map((f) => f());
    history.pushState(null, '', '/pricing');
    await vi.advanceTimersByTimeAsync(3000);
    navigateHash('#plans'); // an in-page anchor
    dispatchEvent(new HashChangeEvent('hashchange'));
    await vi.advanceTimersByTimeAsync(2000);
    history.replaceState(null, '', '/pricing#faq'); // a hash set by replaceState
    await vi.advanceTimersByTimeAsync(2000);
    history.pushState(null, '', '/signup');
    await vi.advanceTimersByTimeAsync(4000);
    setHidden(true);
    const events = [...(await all()), ...net.beacons.flatMap((b) => b.batch.events)] as PageViewEvent[];
    const path = (u: string) => u.replace('http://localhost:3000', '');
    const views = events.filter((e) => e.engagement_ms == null).map((e) => path(e.url));
    const reports = events.filter((e) => e.engagement_ms != null).map((e) => [path(e.url), e.engagement_ms]);
    expect(views).toEqual(['/', '/pricing', '/signup']);
    // Every report's URL is a view's URL; the time on /pricing (anchors included) is one report.
    expect(reports).toEqual([
      ['/pricing', 7000],
      ['/signup', 4000],
    ]);
  });

  test('with hash: true on both plugins, every hash is a view, and the time follows it', async () => {
    const { autoPageviews } = await import('../src/plugins/auto-pageviews.js');
    const { engagement } = await import('../src/plugins/engagement.js');
    const stops = [autoPageviews({ hash: true }), engagement({ hash: true })];
    stop = () => stops.map((f) => f());
    await vi.advanceTimersByTimeAsync(2000);
    history.replaceState(null, '', '/#faq');
    await vi.advanceTimersByTimeAsync(3000);
    setHidden(true);
    const events = [...(await all()), ...net.beacons.flatMap((b) => b.batch.events)] as PageViewEvent[];
    const path = (u: string) => u.replace('http://localhost:3000', '');
    expect(events.filter((e) => e.engagement_ms == null).map((e) => path(e.url))).toEqual(['/', '/#faq']);
    expect(events.filter((e) => e.engagement_ms != null).map((e) => [path(e.url), e.engagement_ms])).toEqual([
      ['/', 2000],
      ['/#faq', 3000],
    ]);
  });

  test('route changes in one task are one view (of the last route), for both plugins', async () => {
    const { autoPageviews } = await import('../src/plugins/auto-pageviews.js');
    const { engagement } = await import('../src/plugins/engagement.js');
    const stops = [autoPageviews(), engagement()];
    stop = () => stops.map((f) => f());
    await vi.advanceTimersByTimeAsync(2000);
    for (let i = 0; i < 10; i++) history.pushState(null, '', `/step/${i}`);
    await vi.advanceTimersByTimeAsync(3000);
    setHidden(true);
    const events = [...(await all()), ...net.beacons.flatMap((b) => b.batch.events)] as PageViewEvent[];
    const path = (u: string) => u.replace('http://localhost:3000', '');
    expect(events.filter((e) => e.engagement_ms == null).map((e) => [path(e.url), path(e.referrer ?? '')])).toEqual([
      ['/', ''],
      ['/step/9', '/'],
    ]);
    expect(events.filter((e) => e.engagement_ms != null).map((e) => [path(e.url), e.engagement_ms])).toEqual([
      ['/', 2000],
      ['/step/9', 3000],
    ]);
  });
});
