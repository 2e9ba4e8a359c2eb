/**
 * The gateway's Fastify error mapping: whatever a route, hook or body parser throws, whatever
 * route does not exist, and whatever Node's HTTP parser refuses is answered with a code of the
 * catalogue (errors.ts) as `{error: {code, message}, request_id}`, counted by code; a whole body
 * refused before its events could be looked at also goes to the dead-letter topic.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorBody } from '../contracts/error-answer.js';
import type { DeadLetters } from './dead-letter.js';
import type { Delivery } from './delivery.js';
import { clientErrorResponse, GatewayError, GW_ERRORS, type GatewayErrorCode } from './errors.js';
import type { GatewayMetrics } from './metrics.js';

/** A whole body refused before its events could be looked at; kept on the dead-letter topic. */
export class BodyError extends GatewayError {
  /** The body as parsed, when it could be. */
  parsed?: unknown;
  /** The body as received (bytes when they are not valid UTF-8). */
  received?: string | Uint8Array;
}

export interface ErrorAnswer {
  code: GatewayErrorCode;
  message: string;
  retryAfterS?: number;
  /** Nothing the client did: a bug of ours, logged with its stack. */
  unexpected: boolean;
}

/** The catalogue's code and message for what a route, hook or Fastify itself threw. */
export function errorAnswer(err: unknown, bodyLimit: number): ErrorAnswer {
  if (err instanceof GatewayError) return { code: err.code, message: err.message, retryAfterS: err.retryAfterS, unexpected: false };
  const fe = err as { code?: string; statusCode?: number; message?: string };
  const known = (code: GatewayErrorCode, message: string = GW_ERRORS[code].message): ErrorAnswer => ({ code, message, unexpected: false });
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return known('GW_ERR_BODY_TOO_LARGE', `${GW_ERRORS.GW_ERR_BODY_TOO_LARGE.message} of ${bodyLimit} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_EMPTY_TYPE':
      return known('GW_ERR_UNSUPPORTED_MEDIA_TYPE');
    // The body stopped before its Content-Length: the client went away, nothing was wrong with the batch.
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'ECONNRESET':
    case 'ECONNABORTED':
      return known('GW_ERR_BODY_INCOMPLETE');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return known('GW_ERR_MALFORMED_JSON', 'Body is empty');
  }
  if (fe.message === 'aborted') return known('GW_ERR_BODY_INCOMPLETE');
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return known('GW_ERR_BATCH_INVALID', fe.message ?? GW_ERRORS.GW_ERR_BATCH_INVALID.message);
  return { code: 'GW_ERR_INTERNAL', message: GW_ERRORS.GW_ERR_INTERNAL.message, unexpected: true };
}

export interface ErrorHandlerDeps {
  bodyLimit: number;
  metrics: GatewayMetrics;
  deadLetters: DeadLetters;
  delivery: Delivery;
}

/** Installs the error and not-found handlers on the gateway's app (called once by buildApp). */
export function registerErrorHandlers(app: FastifyInstance, d: ErrorHandlerDeps): void {
  /** Whole-body refusals are dead-lettered too (best effort: counted when Kafka cannot take them). */
  const deadLetterBody = async (req: FastifyRequest, code: GatewayErrorCode, message: string, err: BodyError) => {
    const siteId = req.site?.siteId || null;
    try {
      const record = d.deadLetters.record({ code, reason: message, parsed: err.parsed, received: err.received, siteId }, code === 'GW_ERR_MALFORMED_JSON' || code === 'GW_ERR_INVALID_UTF8' ? 'malformed' : 'invalid-batch');
      await d.delivery.send([record], req.log);
      d.metrics.deadLetters.inc({ code });
    } catch {
      d.metrics.deadLettersLost.inc();
    }
  };

  app.setErrorHandler(async (err, req, reply) => {
    const { code, message, retryAfterS, unexpected } = errorAnswer(err, d.bodyLimit);
    if (unexpected) req.log.error({ err }, 'unhandled error');
    if (err instanceof BodyError && (err.received !== undefined || err.parsed !== undefined)) await deadLetterBody(req, code, message, err);
    if (retryAfterS !== undefined) reply.header('retry-after', String(retryAfterS));
    d.metrics.errors.inc({ code });
    return reply.status(GW_ERRORS[code].status).send(errorBody(code, message, req.id));
  });

  app.setNotFoundHandler((req, reply) => {
    d.metrics.errors.inc({ code: 'GW_ERR_NOT_FOUND' });
    reply.status(404).send(errorBody('GW_ERR_NOT_FOUND', `No route ${req.method} ${req.url.slice(0, 256)}`, req.id));
  });
}

/**
 * Fastify's `clientErrorHandler`: errors of Node's HTTP parser (TE+CL, two Content-Lengths,
 * headers over 16 KB, a request timeout) get a code of the catalogue, like every other answer.
 */
export function clientErrorHandler(metrics: GatewayMetrics): (err: Error, socket: Socket) => void {
  return (err, socket) => {
    const e = err as Error & { code?: string };
    // The client went away (aborted body, reset): nobody to answer; counted.
    if (e.code === 'ECONNRESET' || !socket.writable) {
      metrics.errors.inc({ code: 'GW_ERR_CLIENT_GONE' });
      socket.destroy();
      return;
    }
    const { code, response } = clientErrorResponse(e);
    metrics.errors.inc({ code });
    socket.end(response);
  };
}
