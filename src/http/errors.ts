import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodType } from 'zod';
import { AppError, httpStatusOf, isAppError, writeRawError, type ErrorCode } from '../errors/index.js';
import type { ErrorBody } from '../protocol/index.js';
import type { Telemetry } from '../telemetry/index.js';
import { discardRestOfBody } from './discard-body.js';

/** Fastify's own error codes, translated into ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_request',
};

/** The single place where errors become HTTP responses. Unknown errors are logged and answered as a generic 500. */
export function installErrorHandling(app: FastifyInstance, telemetry: Telemetry): void {
  app.setErrorHandler(async (err: FastifyError | AppError, request, reply) => {
    let appError: AppError;
    if (isAppError(err)) appError = err;
    else if (err.code !== undefined && FASTIFY_CODES[err.code] !== undefined) {
      const code = FASTIFY_CODES[err.code] as ErrorCode;
      appError = new AppError(
        code,
        code === 'payload_too_large'
          ? 'The request body is too large.'
          : code === 'unsupported_media_type'
            ? 'Send the body as application/json.'
            : 'The request body is not valid JSON.',
      );
    } else if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      appError = new AppError('invalid_request', 'The request is invalid.');
    } else {
      request.log.error({ err }, 'unhandled error');
      appError = new AppError('internal_error', 'Internal server error.');
    }
    if (appError.code === 'service_unavailable')
      request.log.warn({ err: appError.cause ?? appError }, 'dependency unavailable');
    if (appError.code === 'rate_limited') telemetry.rateLimited(request.routeOptions.url ?? 'unknown');
    if (appError.retryAfterSeconds !== undefined) void reply.header('Retry-After', String(appError.retryAfterSeconds));
    if (appError.code === 'payload_too_large') await discardRestOfBody(request.raw);
    return reply.status(httpStatusOf(appError.code)).send(errorBody(appError));
  });
  app.setNotFoundHandler((_request, reply) => {
    void reply.status(404).send(errorBody(new AppError('not_found', 'No such route.')));
  });
}

function errorBody(err: AppError): ErrorBody {
  const body: ErrorBody = { error: { code: err.code, message: err.message } };
  if (err.details !== undefined) body.error.details = err.details;
  return body;
}

/** Validates untrusted input; failures become 400 invalid_request listing every issue. */
export function parseInput<T>(schema: ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  throw new AppError(
    'invalid_request',
    details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; '),
    { details },
  );
}

/** Answers a request node's HTTP parser refused (the socket may already be unwritable). */
export function writeClientError(err: Error & { code?: string }, socket: Duplex): void {
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  writeRawError(socket, tooLarge ? 431 : 400, {
    code: 'invalid_request',
    message: tooLarge ? 'The request headers are too large.' : 'The HTTP request is malformed.',
  });
}

/** fastify's frameworkErrors: a URL it cannot route (bad percent-encoding, an over-long id). */
export function answerRoutingError(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const error =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new AppError('not_found', 'No such resource.')
      : new AppError('invalid_request', 'The request URL is malformed.');
  void reply.status(httpStatusOf(error.code)).header('Cache-Control', 'no-store').send(errorBody(error));
}
