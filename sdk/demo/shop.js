/*
 * Demo shop glue (plain script, loaded synchronously before the SDK loader snippet).
 *  - configuration: endpoint and site key, from ?endpoint=...&site=... (remembered), default
 *    same origin: /v1/events with site key "demo"; ?consent=hold shows a consent banner;
 *    ?reset-config forgets what was remembered;
 *  - a tiny cart in localStorage and the shop's own calls to the SDK (addToCart, purchase,
 *    identify, reset);
 *  - the "sent events" panel: it wraps fetch and navigator.sendBeacon to log every request the
 *    SDK makes to the endpoint, with its answer, kept in sessionStorage so that what was
 *    beaconed while leaving a page shows up on the next one.
 */
(function () {
  'use strict';

  // ---- configuration ------------------------------------------------------------------
  var params = new URLSearchParams(location.search);
  if (params.has('reset-config')) localStorage.removeItem('demo_cfg');
  var cfg = JSON.parse(localStorage.getItem('demo_cfg') || '{}');
  ['endpoint', 'site', 'consent'].forEach(function (k) {
    if (params.has(k)) cfg[k] = params.get(k);
  });
  localStorage.setItem('demo_cfg', JSON.stringify(cfg));
  var endpoint = cfg.endpoint || '/v1/events';
  var consentMode = cfg.consent === 'hold' || cfg.consent === 'drop' ? cfg.consent : 'granted';

  /** Options for clickstream('init', ...): read by the loader snippet in every page. */
  window.DEMO_SDK_OPTIONS = {
    endpoint: endpoint,
    siteKey: cfg.site || 'demo',
    batchSize: 5,
    flushInterval: 2000,
    consent: consentMode,
  };

  // ---- catalog and cart -------------------------------------------------------------------
  var CATALOG = {
    mug: { name: 'Clickstream mug', price: 12.0, page: 'product-mug.html' },
    tee: { name: 'Kafka T-shirt', price: 24.0, page: 'product-tee.html' },
    cap: { name: 'Elastic cap', price: 18.5, page: 'product-cap.html' },
    notebook: { name: 'Parquet notebook', price: 7.9, page: 'product-notebook.html' },
  };
  var CURRENCY = 'EUR';
  var cart = JSON.parse(localStorage.getItem('demo_cart') || '[]');
  var saveCart = function () {
    localStorage.setItem('demo_cart', JSON.stringify(cart));
  };
  var money = function (n) {
    return n.toFixed(2) + ' ' + CURRENCY;
  };
  var cartTotal = function () {
    return Math.round(cart.reduce(function (s, l) { return s + CATALOG[l.id].price * l.qty; }, 0) * 100) / 100;
  };

  window.shop = {
    catalog: CATALOG,
    money: money,
    cart: function () { return cart; },
    total: cartTotal,
    add: function (id, qty) {
      qty = qty || 1;
      var p = CATALOG[id];
      var line = cart.find(function (l) { return l.id === id; });
      if (line) line.qty += qty;
      else cart.push({ id: id, qty: qty });
      saveCart();
      clickstream('addToCart', { productId: id, name: p.name, price: p.price, quantity: qty, currency: CURRENCY });
      renderHeader();
    },
    remove: function (id) {
      cart = cart.filter(function (l) { return l.id !== id; });
      saveCart();
      renderHeader();
    },
    /** Places the order: the purchase event, then the thank-you page. */
    placeOrder: function () {
      if (!cart.length) return null;
      var orderId = 'o-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 6);
      clickstream('purchase', {
        orderId: orderId,
        revenue: cartTotal(),
        currency: CURRENCY,
        items: cart.map(function (l) { return { productId: l.id, price: CATALOG[l.id].price, quantity: l.qty }; }),
      });
      // Leaving the page right away: the SDK keeps the purchase in its offline queue and beacons it
      // on pagehide; the next page resends it if the beacon was lost (the gateway drops the copy).
      cart = [];
      saveCart();
      return orderId;
    },
    signIn: function () {
      localStorage.setItem('demo_user', 'demo-user-1');
      clickstream('identify', 'demo-user-1');
      renderHeader();
    },
    signOut: function () {
      localStorage.removeItem('demo_user');
      clickstream('reset');
      renderHeader();
    },
  };

  // ---- the events panel -------------------------------------------------------------------
  var LOG_KEY = 'demo_sent';
  var readLog = function () { return JSON.parse(sessionStorage.getItem(LOG_KEY) || '[]'); };
  var writeLog = function (log) { sessionStorage.setItem(LOG_KEY, JSON.stringify(log.slice(-60))); };
  var isEndpoint = function (url) {
    try {
      return new URL(url, location.href).pathname === new URL(endpoint, location.href).pathname;
    } catch (e) {
      return false;
    }
  };
  var record = function (transport, body, status) {
    var batch;
    try { batch = JSON.parse(body); } catch (e) { batch = { events: [] }; }
    var log = readLog();
    var entry = { id: Date.now() + Math.random(), at: Date.now(), transport: transport, page: location.pathname, status: status, events: batch.events || [] };
    log.push(entry);
    writeLog(log);
    renderPanel();
    return entry.id;
  };
  var setStatus = function (id, status) {
    var log = readLog();
    log.forEach(function (e) { if (e.id === id) e.status = status; });
    writeLog(log);
    renderPanel();
  };

  var origFetch = window.fetch;
  window.fetch = function (input, init) {
    var url = typeof input === 'string' ? input : input.url;
    if (!isEndpoint(url) || !init || typeof init.body !== 'string') return origFetch.apply(this, arguments);
    var id = record('fetch', init.body, '…');
    return origFetch.apply(this, arguments).then(
      function (r) { setStatus(id, String(r.status)); return r; },
      function (err) { setStatus(id, 'network error'); throw err; },
    );
  };
  if (navigator.sendBeacon) {
    var origBeacon = navigator.sendBeacon.bind(navigator);
    navigator.sendBeacon = function (url, data) {
      var ok = origBeacon(url, data);
      if (isEndpoint(url)) record('beacon', data, ok ? 'handed to the browser' : 'refused');
      return ok;
    };
  }

  var describe = function (e) {
    switch (e.type) {
      case 'page_view':
        return e.engagement_ms != null
          ? 'engagement ' + (e.engagement_ms / 1000).toFixed(1) + ' s on ' + new URL(e.url).pathname
          : 'page_view ' + new URL(e.url).pathname + new URL(e.url).hash;
      case 'click':
        return 'click ' + (e.element || '');
      case 'add_to_cart':
        return 'add_to_cart ' + e.product_id + ' × ' + e.quantity + ' @ ' + e.price + ' ' + e.currency;
      case 'purchase':
        return 'purchase ' + e.order_id + ' ' + e.revenue + ' ' + e.currency;
      default:
        return e.type;
    }
  };
  var esc = function (s) {
    return String(s).replace(/[&<>"]/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]; });
  };
  var queued = function () {
    // Every page's stored entry (cs.<page id>): [time written, queue, beaconed not confirmed yet, since].
    return Object.keys(localStorage).reduce(function (n, k) {
      try { return k.indexOf('cs.') === 0 ? n + JSON.parse(localStorage.getItem(k))[1].length : n; } catch (e) { return n; }
    }, 0);
  };

  function renderPanel() {
    var el = document.getElementById('cs-panel');
    if (!el) return;
    var log = readLog().slice().reverse();
    var open = sessionStorage.getItem('demo_panel') !== 'closed';
    el.className = open ? 'open' : '';
    el.innerHTML =
      '<header><b>Sent events</b> <span>endpoint ' + esc(endpoint) + ' · site ' + esc(window.DEMO_SDK_OPTIONS.siteKey) +
      ' · queued in this browser: <b id="cs-queued">' + queued() + '</b></span>' +
      '<button id="cs-toggle">' + (open ? 'hide' : 'show') + '</button> <button id="cs-clear">clear</button></header>' +
      (open
        ? '<ol>' +
          log
            .map(function (r) {
              var ok = /^2/.test(r.status) ? 'ok' : r.status === '…' || r.transport === 'beacon' ? 'pending' : 'bad';
              return '<li class="' + ok + '"><div class="meta">' + new Date(r.at).toLocaleTimeString() + ' · ' + r.transport + ' · <b>' + esc(r.status) +
                '</b> · from ' + esc(r.page) + '</div><ul>' +
                r.events.map(function (e) { return '<li title="' + esc(e.event_id) + '">' + esc(describe(e)) + '</li>'; }).join('') +
                '</ul></li>';
            })
            .join('') +
          '</ol>'
        : '');
    document.getElementById('cs-toggle').onclick = function () {
      sessionStorage.setItem('demo_panel', open ? 'closed' : 'open');
      renderPanel();
    };
    document.getElementById('cs-clear').onclick = function () {
      writeLog([]);
      renderPanel();
    };
  }

  // ---- header, consent banner ----------------------------------------------------------------
  function renderHeader() {
    var count = cart.reduce(function (s, l) { return s + l.qty; }, 0);
    var c = document.getElementById('cart-count');
    if (c) c.textContent = String(count);
    var who = document.getElementById('who');
    if (who) {
      var user = localStorage.getItem('demo_user');
      who.innerHTML = user
        ? 'Signed in as ' + esc(user) + ' <button id="sign-out">Sign out</button>'
        : '<button id="sign-in">Sign in (demo user)</button>';
      var b = document.getElementById(user ? 'sign-out' : 'sign-in');
      b.onclick = user ? window.shop.signOut : window.shop.signIn;
    }
  }

  function consentBanner() {
    if (consentMode === 'granted') return;
    var choice = localStorage.getItem('demo_consent');
    if (choice) return clickstream('consent', choice === 'yes');
    var div = document.createElement('div');
    div.id = 'consent';
    div.innerHTML = '<p>This demo shop measures its visits (mode "' + consentMode + '": events are ' +
      (consentMode === 'hold' ? 'held in memory' : 'dropped') + ' until you choose).</p>' +
      '<button id="consent-yes">Accept</button> <button id="consent-no">Decline</button>';
    document.body.appendChild(div);
    var choose = function (yes) {
      localStorage.setItem('demo_consent', yes ? 'yes' : 'no');
      clickstream('consent', yes);
      div.remove();
    };
    document.getElementById('consent-yes').onclick = function () { choose(true); };
    document.getElementById('consent-no').onclick = function () { choose(false); };
  }

  document.addEventListener('DOMContentLoaded', function () {
    var panel = document.createElement('aside');
    panel.id = 'cs-panel';
    document.body.appendChild(panel);
    renderHeader();
    renderPanel();
    consentBanner();
    if (localStorage.getItem('demo_user')) clickstream('identify', localStorage.getItem('demo_user'));
    setInterval(function () {
      var q = document.getElementById('cs-queued');
      if (q) q.textContent = String(queued());
    }, 1000);
  });
})();
