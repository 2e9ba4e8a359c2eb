/**
 * The event builders, one export each, so a bundler drops the ones a site never calls.
 * Each maps the camelCase API onto the wire names of contracts/event-schema.ts.
 */
import type { AddToCartEvent, ClickEvent, PageViewEvent, PurchaseEvent } from '../../contracts/event-schema.js';
import { track } from './core.js';

export interface PageProps {
  /** Defaults to location.href. */
  url?: string;
  /** Defaults to document.referrer (the auto page-view plugin passes the previous route). */
  referrer?: string;
  /** Defaults to document.title. */
  title?: string;
  /**
   * Set only by the engagement plugin: this page_view is an engagement report for `url`
   * (visible time since the previous report), not a new view. See contracts/event-schema.ts.
   */
  engagement_ms?: number;
}

export interface CartItem {
  productId: string;
  /** Product name. */
  name?: string;
  price: number;
  /** Default 1. */
  quantity?: number;
  /** ISO 4217, upper case ("EUR"). */
  currency: string;
}

export interface Order {
  orderId: string;
  revenue: number;
  /** ISO 4217, upper case ("EUR"). */
  currency: string;
  items?: { productId: string; price: number; quantity?: number }[];
}

/** A page view of the current page (or of the given url, title and referrer). */
export const page = (props?: PageProps): void => track('page_view', props satisfies Partial<PageViewEvent> | undefined);

/** A click: what was clicked (a short selector, id or label) and where it leads. */
export const click = (element?: string, targetUrl?: string): void =>
  track('click', { element: element?.slice(0, 512), target_url: targetUrl } satisfies Partial<ClickEvent>);

export const addToCart = (item: CartItem): void =>
  track('add_to_cart', {
    product_id: item.productId,
    product_name: item.name,
    price: item.price,
    quantity: item.quantity || 1,
    currency: item.currency,
  } satisfies Partial<AddToCartEvent>);

export const purchase = (order: Order): void =>
  track('purchase', {
    order_id: order.orderId,
    revenue: order.revenue,
    currency: order.currency,
    items: order.items?.map((i) => ({ product_id: i.productId, price: i.price, quantity: i.quantity || 1 })),
  } satisfies Partial<PurchaseEvent>);
