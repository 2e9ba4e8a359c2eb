/**
 * Behind the acceptor (acceptor.ts), how many connections a gateway process takes until its next
 * report: its room. Every connection handed over brings its later requests too (browsers keep
 * theirs alive), so what a process can take is judged by its spare time, not only by whether it
 * shed something lately. A process that has just stopped shedding is still busy with what it holds:
 * with one flag ("not overloaded") the acceptor handed it the next request of every connection it
 * had kept at once, which the process then had to shed again, on its own thread. With room, the
 * hand-over follows the process's spare time: a wide door while its loop is mostly idle, narrowing
 * to none as it nears saturation, and none while it sheds or its oldest admitted request has waited
 * half the delay bound.
 */

/** How often a process behind the acceptor reports its room (ms). */
export const ROOM_REPORT_MS = 50;
/** Connections per report while the loop is at most ROOM_IDLE_BUSY busy: 20,480 a second, a burst of browsers arriving at an idle process is not shed. */
export const ROOM_MAX = 1024;
/** Loop busy share up to which the room is whole. */
export const ROOM_IDLE_BUSY = 0.5;
/** Loop busy share from which there is no room: the rest is the margin that keeps an admitted request's wait short. */
export const ROOM_FULL_BUSY = 0.95;

export interface RoomInputs {
  /** Shed a request within the hold time (app.ts, OVERLOAD_HOLD_MS). */
  overloaded: boolean;
  /** Share of the last window the event loop was busy, without the time it waited for a core (0..1, loop-lag.ts `runShare`: a starved machine does not make an idle process look full). */
  loopBusy: number;
  /** Age of the oldest admitted, unanswered request (ms) and the bound on it (GATEWAY_MAX_QUEUE_DELAY_MS; 0: none). */
  oldestAgeMs: number;
  maxDelayMs: number;
}

/** Connections to take until the next report. */
export function handoverRoom(s: RoomInputs): number {
  if (s.overloaded) return 0;
  if (s.maxDelayMs > 0 && s.oldestAgeMs > s.maxDelayMs / 2) return 0;
  const spare = Math.min(1, Math.max(0, (ROOM_FULL_BUSY - s.loopBusy) / (ROOM_FULL_BUSY - ROOM_IDLE_BUSY)));
  // Squared: wide while the process is far from saturation, a few connections per report near it
  // (the busy share is a quarter second old, and each connection brings its later requests).
  return Math.floor(ROOM_MAX * spare * spare);
}
