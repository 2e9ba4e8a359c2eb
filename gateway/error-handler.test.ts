import { describe, expect, test } from 'vitest';
import { BodyError, errorAnswer } from './error-handler.js';
import { GatewayError, GW_ERRORS } from './errors.js';

describe('errorAnswer', () => {
  test("a GatewayError keeps its code, message and Retry-After", () => {
    const a = errorAnswer(new GatewayError('GW_ERR_EVENTS_RATE_LIMITED', 'limit of 10 events/s', 3), 1000);
    expect(a).toEqual({ code: 'GW_ERR_EVENTS_RATE_LIMITED', message: `${GW_ERRORS.GW_ERR_EVENTS_RATE_LIMITED.message}: limit of 10 events/s`, retryAfterS: 3, unexpected: false });
  });

  test('a BodyError is a GatewayError', () => {
    expect(errorAnswer(new BodyError('GW_ERR_INVALID_UTF8'), 1000).code).toBe('GW_ERR_INVALID_UTF8');
  });

  test.each([
    [{ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413, message: 'x' }, 'GW_ERR_BODY_TOO_LARGE', `${GW_ERRORS.GW_ERR_BODY_TOO_LARGE.message} of 4096 bytes`],
    [{ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415, message: 'x' }, 'GW_ERR_UNSUPPORTED_MEDIA_TYPE', GW_ERRORS.GW_ERR_UNSUPPORTED_MEDIA_TYPE.message],
    [{ code: 'FST_ERR_CTP_EMPTY_TYPE', statusCode: 415, message: 'x' }, 'GW_ERR_UNSUPPORTED_MEDIA_TYPE', GW_ERRORS.GW_ERR_UNSUPPORTED_MEDIA_TYPE.message],
    [{ code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400, message: 'x' }, 'GW_ERR_BODY_INCOMPLETE', GW_ERRORS.GW_ERR_BODY_INCOMPLETE.message],
    [{ code: 'ECONNRESET', message: 'x' }, 'GW_ERR_BODY_INCOMPLETE', GW_ERRORS.GW_ERR_BODY_INCOMPLETE.message],
    [{ message: 'aborted' }, 'GW_ERR_BODY_INCOMPLETE', GW_ERRORS.GW_ERR_BODY_INCOMPLETE.message],
    [{ code: 'FST_ERR_CTP_EMPTY_JSON_BODY', statusCode: 400, message: 'x' }, 'GW_ERR_MALFORMED_JSON', 'Body is empty'],
    [{ code: 'FST_ERR_VALIDATION', statusCode: 400, message: 'querystring must be object' }, 'GW_ERR_BATCH_INVALID', 'querystring must be object'],
  ])("Fastify's %o answers %s", (err, code, message) => {
    expect(errorAnswer(Object.assign(new Error(err.message), err), 4096)).toEqual({ code, message, unexpected: false });
  });

  test('anything else is internal, without detail, and unexpected', () => {
    expect(errorAnswer(new TypeError('x is undefined'), 1000)).toEqual({ code: 'GW_ERR_INTERNAL', message: GW_ERRORS.GW_ERR_INTERNAL.message, unexpected: true });
    expect(errorAnswer(Object.assign(new Error('boom'), { statusCode: 502 }), 1000).code).toBe('GW_ERR_INTERNAL');
  });
});
