/**
 * The gateway's error catalogue: every refusal has a stable code and one HTTP status.
 * Clients (and our SDK) branch on `code`, never on the message.
 */
import { errorBody, type ErrorCatalogue } from '../contracts/error-answer.js';

export const GW_ERRORS = {
  GW_ERR_MALFORMED_JSON: { status: 400, message: 'Body is not valid JSON' },
  GW_ERR_BATCH_INVALID: { status: 400, message: 'Body must be {"events": [...]} (or an array of events)' },
  GW_ERR_ALL_EVENTS_INVALID: { status: 400, message: 'No event in the batch is valid; see results' },
  GW_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Content-Type must be application/json or text/plain' },
  GW_ERR_UNSUPPORTED_ENCODING: { status: 415, message: 'Content-Encoding is not supported: send the body uncompressed (identity)' },
  GW_ERR_UNSUPPORTED_CHARSET: { status: 415, message: 'Charset is not supported: send UTF-8 (a byte-order mark is allowed)' },
  GW_ERR_INVALID_UTF8: { status: 400, message: 'Body is not valid UTF-8' },
  GW_ERR_BODY_TOO_LARGE: { status: 413, message: 'Body exceeds the size limit' },
  GW_ERR_BATCH_TOO_LARGE: { status: 413, message: 'Batch has more events than allowed' },
  GW_ERR_QUERY_REPEATED_KEY: { status: 400, message: 'A query parameter is given more than once' },
  GW_ERR_REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time' },
  GW_ERR_BODY_INCOMPLETE: { status: 400, message: 'The body ended before its Content-Length (the client stopped sending)' },
  GW_ERR_CLIENT_CLOSED: { status: 400, message: 'The client closed the connection before its request was handled (nobody reads this answer)' },
  GW_ERR_HEADERS_TOO_LARGE: { status: 431, message: 'Request headers are too large' },
  GW_ERR_BAD_REQUEST: { status: 400, message: 'The request is not valid HTTP (e.g. both Transfer-Encoding and Content-Length, or two Content-Length headers)' },
  GW_ERR_UNKNOWN_SITE: { status: 401, message: 'Unknown or missing site key' },
  GW_ERR_ORIGIN_FORBIDDEN: { status: 403, message: 'Origin not allowed for this site' },
  GW_ERR_RATE_LIMITED: { status: 429, message: 'Too many requests' },
  GW_ERR_EVENTS_RATE_LIMITED: { status: 429, message: 'Too many events for this site; retry after Retry-After seconds' },
  GW_ERR_KAFKA_UNAVAILABLE: { status: 503, message: 'Event store unavailable; retry later' },
  GW_ERR_OVERLOADED: { status: 503, message: 'The gateway is overloaded (requests would wait too long, or too much is in flight); retry after Retry-After seconds' },
  GW_ERR_NOT_FOUND: { status: 404, message: 'No such route' },
  GW_ERR_SDK_NOT_BUILT: { status: 404, message: 'The SDK script is not built on this gateway' },
  GW_ERR_METRICS_UNAVAILABLE: { status: 503, message: "Not every gateway process gave its metrics in time (a partial page would read as a counter reset); scrape again" },
  GW_ERR_INTERNAL: { status: 500, message: 'Internal error' },
} as const satisfies ErrorCatalogue;

export type GatewayErrorCode = keyof typeof GW_ERRORS;

/** Reasons an individual event is refused (per-event results and the dead-letter topic). */
export const EVENT_ERRORS = {
  GW_ERR_EVENT_NOT_OBJECT: 'Event must be a JSON object',
  GW_ERR_UNKNOWN_EVENT_TYPE: 'Unknown event type',
  GW_ERR_EVENT_INVALID: 'Event does not match its schema',
  GW_ERR_PIXEL_REPEATED_KEY: 'A pixel query parameter is given more than once',
  GW_ERR_EVENT_ID_CONFLICT: 'An event with this id and other content was already accepted for this site',
  GW_ERR_EVENT_TIME_OUT_OF_RANGE: 'Event time (clock-skew corrected) is outside the accepted window around the receive time',
} as const;

export type EventErrorCode = keyof typeof EVENT_ERRORS;

export class GatewayError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: GatewayErrorCode,
    detail?: string,
    readonly retryAfterS?: number,
  ) {
    super(detail ? `${GW_ERRORS[code].message}: ${detail}` : GW_ERRORS[code].message);
    this.statusCode = GW_ERRORS[code].status;
  }
}

/**
 * The answer for an error Node's HTTP parser raises before any route runs (Fastify's
 * `clientErrorHandler`): the code and raw HTTP/1.1 response, in the catalogue's shape.
 */
export function clientErrorResponse(err: { code?: string }): { code: GatewayErrorCode; response: string } {
  const code: GatewayErrorCode =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'GW_ERR_REQUEST_TIMEOUT' : err.code === 'HPE_HEADER_OVERFLOW' ? 'GW_ERR_HEADERS_TOO_LARGE' : 'GW_ERR_BAD_REQUEST';
  const { status, message } = GW_ERRORS[code];
  const body = JSON.stringify(errorBody(code, message));
  const reason = status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
  return { code, response: `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}` };
}
