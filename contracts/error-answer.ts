/**
 * What every service's error catalogue holds and how its answers look: each stable code has one
 * HTTP status and a default message, and every error answer of the gateway and the dashboard is
 * `{error: {code, message}}` (the gateway adds `request_id`). Clients (the SDK, the dashboard
 * page, scripts) branch on `code`, never on the message.
 */
export interface ErrorEntry {
  status: number;
  message: string;
}

/** A service's catalogue: code -> status and default message (gateway/errors.ts, dashboard/errors.ts). */
export type ErrorCatalogue = Record<string, ErrorEntry>;

export interface ErrorBody<C extends string = string> {
  error: { code: C; message: string };
  /** The request's id (x-request-id), where the service has one. */
  request_id?: string;
}

export function errorBody<C extends string>(code: C, message: string, requestId?: string): ErrorBody<C> {
  return requestId === undefined ? { error: { code, message } } : { error: { code, message }, request_id: requestId };
}
