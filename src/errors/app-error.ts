import type { ErrorCode } from './codes.js';

/** An error whose code is part of the public contract. Untrusted input failures become these; caller bugs stay TypeErrors. */
export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: ErrorCode;
  /** Seconds a client should wait (rate limits). */
  readonly retryAfterSeconds: number | undefined;
  /** Structured detail safe to show the client (validation issues). */
  readonly details: unknown;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; retryAfterSeconds?: number; details?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

export const notFound = (what = 'resource'): AppError => new AppError('not_found', `No such ${what}.`);
