/**
 * Automatic clicks on links and buttons (and anything marked `data-cs-click="label"`).
 * What is sent: a short description of the element (its data-cs-click label, else tag, id and
 * text, at most 80 characters of text) and, for links, where they lead. Never input values.
 *
 *   import { autoClicks } from '@clickstream/sdk/auto-clicks';
 *   const stop = autoClicks();
 */
import { click } from '../events.js';

export interface AutoClickOptions {
  /** Which elements count (matched on the clicked element or its nearest ancestor). */
  selector?: string;
}

const DEFAULT = 'a,button,[role=button],input[type=submit],input[type=button],[data-cs-click]';

/** A short, stable description of an element: `button#buy "Add to cart"`. */
export function describe(el: Element): string {
  const label = el.getAttribute('data-cs-click');
  if (label) return label;
  const text = ((el as HTMLElement).innerText || el.textContent || (el as HTMLInputElement).value || '').replace(/\s+/g, ' ').trim();
  return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (text ? ' "' + text.slice(0, 80) + '"' : '');
}

/** Starts tracking clicks; returns a function that stops it. */
export function autoClicks(options: AutoClickOptions = {}): () => void {
  const on = (ev: Event) => {
    const el = (ev.target as Element | null)?.closest?.(options.selector || DEFAULT);
    if (!el) return;
    const href = (el as HTMLAnchorElement).href;
    click(describe(el), typeof href == 'string' && href ? href : undefined);
  };
  // Capture phase: seen even when the page stops propagation, and before a link navigates away.
  document.addEventListener('click', on, true);
  return () => document.removeEventListener('click', on, true);
}
