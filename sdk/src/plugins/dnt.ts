/**
 * Do Not Track and Global Privacy Control. `doNotTrack()` is true when the browser sends either
 * (`navigator.doNotTrack == '1'` or `navigator.globalPrivacyControl`). The script-tag builds honour
 * it with `respectDnt: true` in the init options; from npm, do not start the SDK:
 *
 *   import { doNotTrack } from '@clickstream/sdk/dnt';
 *   if (!doNotTrack()) init({ siteKey: 'KEY' });
 *
 * An SDK never started records, stores and sends nothing, whatever else is called (consent(true)
 * included).
 */
export function doNotTrack(): boolean {
  const n = navigator as Navigator & { globalPrivacyControl?: boolean };
  return n.doNotTrack == '1' || !!n.globalPrivacyControl;
}
