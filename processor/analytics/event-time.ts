/**
 * Date.parse of an event's `timestamp`, remembering the last string parsed: the readability check
 * (processor/readable.ts), the engine and the alerts sink each parse the same event's timestamp in
 * turn, and Date.parse of an ISO time is ~130 ns. Equal strings give equal times, so the result
 * is Date.parse's whatever the order of calls.
 */
let lastText = '';
let lastMs = NaN;

export function eventTimeMs(text: string): number {
  if (text !== lastText) {
    lastMs = Date.parse(text);
    lastText = text;
  }
  return lastMs;
}
