import type net from 'node:net';
import { GW_ERRORS } from './errors.js';

/**
 * What the acceptor (acceptor.ts) reads and writes of HTTP itself, on the bytes of a connection it
 * has not handed over: whether a request head is an ingest request, its Origin, the whole 503 it
 * answers, and stopping a socket's reads before its hand-over.
 */

/** The ingest routes the acceptor sheds; everything else is always handed over. */
const INGEST = [Buffer.from('POST /v1/events'), Buffer.from('GET /v1/p.gif')];
export const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Whether the first bytes of a request are an ingest request's line (its path, then a space or a query). */
export function isIngestRequest(head: Buffer): boolean {
  for (const prefix of INGEST) {
    if (head.length > prefix.length && head.subarray(0, prefix.length).equals(prefix)) {
      const next = head[prefix.length];
      return next === 0x20 || next === 0x3f;
    }
  }
  return false;
}

/** The Origin header of a request head, or '' (for CORS on the answer, so a page can read the 503). */
export function originOf(head: Buffer): string {
  const end = head.indexOf(CRLFCRLF);
  const text = head.toString('latin1', 0, end < 0 ? Math.min(head.length, 8192) : end);
  const m = /\r\norigin:[ \t]*([^\r\n]*)/i.exec(text);
  const origin = m ? m[1].trim() : '';
  // Only a plausible origin is echoed (no header injection, bounded length).
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[A-Za-z0-9.:[\]-]{1,253}$/.test(origin) ? origin : '';
}

/**
 * Why the acceptor sheds: every gateway process is overloaded (shedding, or no room in its last
 * report: its loop saturated); one had room, but its hand-over channel could not take the connection
 * in time (`busy`: a burst of new connections; acceptor.ts); or none is ready (starting, restarting).
 */
export type AcceptorShed = 'overloaded' | 'busy' | 'not_ready';
const BODY_START: Record<AcceptorShed, string> = {
  overloaded: `{"error":{"code":"GW_ERR_OVERLOADED","message":${JSON.stringify(`${GW_ERRORS.GW_ERR_OVERLOADED.message}: every gateway process is overloaded`)}},"request_id":`,
  busy: `{"error":{"code":"GW_ERR_OVERLOADED","message":${JSON.stringify(`${GW_ERRORS.GW_ERR_OVERLOADED.message}: no gateway process could take a new connection in time`)}},"request_id":`,
  not_ready: `{"error":{"code":"GW_ERR_OVERLOADED","message":${JSON.stringify(`${GW_ERRORS.GW_ERR_OVERLOADED.message}: no gateway process is ready yet`)}},"request_id":`,
};

/** The whole 503 answer of the acceptor: the gateway's GW_ERR_OVERLOADED body and headers; `keepAlive`: the connection stays open. */
export function shedAnswer(requestId: string, retryAfterS: number, origin: string, why: AcceptorShed = 'overloaded', keepAlive = false): Buffer {
  const body = `${BODY_START[why]}${JSON.stringify(requestId)}}`;
  const cors = origin ? `access-control-allow-origin: ${origin}\r\naccess-control-expose-headers: retry-after, x-request-id\r\nvary: Origin\r\n` : '';
  return Buffer.from(
    `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `retry-after: ${retryAfterS}\r\nx-request-id: ${requestId}\r\ncache-control: no-store\r\n${cors}connection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n${body}`,
    'latin1',
  );
}

/**
 * Stops reading a socket at once (not only once its buffer fills, as pause() does): the bytes that
 * follow belong to the gateway process it is handed to. Node's own handle calls; `reading` is
 * cleared so that a later resume() of this same socket reads again.
 */
export function stopReading(socket: net.Socket): void {
  socket.pause();
  const handle = (socket as unknown as { _handle?: { readStop?: () => void; reading?: boolean } })._handle;
  if (handle?.readStop) {
    handle.readStop();
    handle.reading = false;
  }
}
