/**
 * The dashboard's error catalogue: every error answer is `{error: {code, message}}` with a stable
 * code and one HTTP status. The page (and any script reading the API) branches on `code`.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { errors as esErrors } from '@elastic/elasticsearch';
import { errorBody as answer, type ErrorCatalogue } from '../contracts/error-answer.js';

export const DASH_ERRORS = {
  DASH_ERR_PARAM: { status: 400, message: 'Bad query parameter' },
  DASH_ERR_REQUEST: { status: 400, message: 'Bad request' },
  DASH_ERR_AUTH: { status: 401, message: 'Authentication required' },
  DASH_ERR_NOT_FOUND: { status: 404, message: 'No such route' },
  DASH_ERR_INTERNAL: { status: 500, message: 'Internal error' },
  DASH_ERR_ES: { status: 502, message: 'Elasticsearch query failed' },
} as const satisfies ErrorCatalogue;

export type DashboardErrorCode = keyof typeof DASH_ERRORS;

/** A query parameter the API cannot use; the message says which and what it expects. */
export class ParamError extends Error {}

/** The body of an error answer. */
export const errorBody = (code: DashboardErrorCode, message: string = DASH_ERRORS[code].message) => answer(code, message);

/** Sends the catalogue's status and body for `code`. */
export const sendError = (reply: FastifyReply, code: DashboardErrorCode, message?: string) => reply.code(DASH_ERRORS[code].status).send(errorBody(code, message));

/**
 * Fastify's error handler: called with whatever a route or hook threw. Bad parameters are the
 * caller's (400), an Elasticsearch failure is upstream (502), Fastify's own 4xx (bad URL, ...)
 * keep their status; anything else is ours (500, logged, no detail sent).
 */
export function handleError(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof ParamError) return sendError(reply, 'DASH_ERR_PARAM', err.message);
  if (err instanceof esErrors.ElasticsearchClientError) {
    req.log.warn({ err, url: req.url }, 'dashboard query failed');
    return sendError(reply, 'DASH_ERR_ES', `${DASH_ERRORS.DASH_ERR_ES.message}: ${err.message}`);
  }
  const status = (err as { statusCode?: number }).statusCode;
  if (status && status >= 400 && status < 500) return reply.code(status).send(errorBody('DASH_ERR_REQUEST', err.message));
  req.log.error({ err, url: req.url }, 'dashboard request failed');
  return sendError(reply, 'DASH_ERR_INTERNAL');
}

/** Fastify's not-found handler: any route the dashboard does not serve. */
export function handleNotFound(req: FastifyRequest, reply: FastifyReply) {
  return sendError(reply, 'DASH_ERR_NOT_FOUND', `No route ${req.method} ${req.url.slice(0, 256)}`);
}
