/**
 * @clickstream/sdk: a tiny, tree-shakable clickstream tracker.
 *
 *   import { init, page, addToCart } from '@clickstream/sdk';
 *   init({ endpoint: '/v1/events', siteKey: 'KEY' });
 *   page();
 *
 * Optional features are separate entry points: '@clickstream/sdk/consent' (consent),
 * '@clickstream/sdk/identify' (identify, reset), '@clickstream/sdk/auto-pageviews',
 * '@clickstream/sdk/auto-clicks', '@clickstream/sdk/engagement'.
 */
export { init, track, flush } from './core.js';
export type { Options } from './core.js';
export { page, click, addToCart, purchase } from './events.js';
export type { PageProps, CartItem, Order } from './events.js';
export type {
  ClientEvent,
  EventBatch,
  EventType,
  PageViewEvent,
  ClickEvent,
  AddToCartEvent,
  PurchaseEvent,
  PurchaseItem,
} from '../../contracts/event-schema.js';
