/**
 * Script-tag glue: installs `window.clickstream`, a function (`clickstream('page')`) that also
 * carries every method (`clickstream.page()`), and replays the calls the loader snippet queued
 * before this script had loaded, in order. See sdk/snippet.html.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Api = Record<string, (...args: any[]) => unknown>;

export function install(api: Api): void {
  const w = window as unknown as { clickstream?: object & { q?: [string, ...unknown[]][] } };
  const queued = w.clickstream?.q || [];
  // A method this build lacks (a plugin of the full build called on the core one) is said once per call, never ignored silently.
  const f = Object.assign((method: string, ...args: unknown[]) => (api[method] ? api[method](...args) : console.warn('clickstream: no', method, 'in this build')), api);
  w.clickstream = f;
  // Each entry is the `arguments` object of a queued call (iterable).
  for (const a of queued) f(...a);
}
