import { describe, expect, test } from 'vitest';
import { createValidator } from './validate.js';
import { addToCart, pageView, purchase } from '../test/unit/fixtures.js';

const validate = createValidator();

describe('validateEvent', () => {
  test.each([
    ['page_view', pageView()],
    ['click', { ...pageView(), type: 'click', element: 'a#buy', target_url: 'https://shop.example/cart' }],
    ['add_to_cart', addToCart()],
    ['purchase', purchase()],
  ])('accepts a well-formed %s', (_name, ev) => {
    expect(validate(ev)).toEqual({ ok: true, event: ev });
  });

  test.each([
    ['a string', 'hello', 'GW_ERR_EVENT_NOT_OBJECT', /JSON object/],
    ['null', null, 'GW_ERR_EVENT_NOT_OBJECT', /JSON object/],
    ['an array', [1], 'GW_ERR_EVENT_NOT_OBJECT', /JSON object/],
    ['an unknown type', { ...pageView(), type: 'checkout' }, 'GW_ERR_UNKNOWN_EVENT_TYPE', /"checkout".*page_view, click, add_to_cart, purchase/],
    ['no type', { ...pageView(), type: undefined }, 'GW_ERR_UNKNOWN_EVENT_TYPE', /null/],
    ['a price as string', addToCart({ price: '12.5' }), 'GW_ERR_EVENT_INVALID', /\/price must be number/],
    ['a negative quantity', addToCart({ quantity: -1 }), 'GW_ERR_EVENT_INVALID', /\/quantity must be >= 1/],
    ['a missing product', addToCart({ product_id: undefined }), 'GW_ERR_EVENT_INVALID', /missing "product_id"/],
    ['a lower-case currency', purchase({ currency: 'eur' }), 'GW_ERR_EVENT_INVALID', /\/currency must match/],
    ['an unknown field', { ...pageView(), colour: 'red' }, 'GW_ERR_EVENT_INVALID', /unknown field "colour"/],
    ['a short event id', pageView({ event_id: 'abc' }), 'GW_ERR_EVENT_INVALID', /\/event_id must match/],
    ['a timestamp as string', { ...pageView(), ts: '2024-01-01' }, 'GW_ERR_EVENT_INVALID', /\/ts must be integer/],
    ['no visitor', { ...pageView(), visitor_id: undefined }, 'GW_ERR_EVENT_INVALID', /missing "visitor_id"/],
  ])('rejects %s with a reason', (_name, ev, code, reason) => {
    const r = validate(JSON.parse(JSON.stringify(ev ?? null)));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe(code);
    expect(r.reason).toMatch(reason);
  });
});
