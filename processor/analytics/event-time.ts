/**
 * Date.parse of an event's `timestamp`, remembering the last string parsed: the readability check
 * (processor/readable.ts), the engine and the alerts sink each parse the same event's timestamp in
 * turn, and Date.parse of an ISO time is ~130 ns. Equal strings give equal times, so the result
 * is Date.parse's whatever the order of calls.
 */
export const eventTimeMs = lastParsed();

/**
 * The same for `received_at` (read by the readability check only): the events of one request to the
 * gateway share it, so consecutive records mostly repeat it. A memo of its own, or each event's
 * two times would evict each other.
 */
export const receivedTimeMs = lastParsed();

function lastParsed(): (text: string) => number {
  let lastText = '';
  let lastMs = NaN;
  return (text) => {
    if (text !== lastText) {
      lastMs = Date.parse(text);
      lastText = text;
    }
    return lastMs;
  };
}
