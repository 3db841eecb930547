import { AppError, isAppError } from '../../errors/index.js';

/** The two log levels providers use; a pino logger fits. Never given API keys, bodies or headers. */
export interface ProviderLogger {
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

export const silentLogger: ProviderLogger = { warn: () => {}, debug: () => {} };

/** The logger shape both SDKs accept. */
interface SdkLogger {
  error(message: string, ...rest: unknown[]): void;
  warn(message: string, ...rest: unknown[]): void;
  info(message: string, ...rest: unknown[]): void;
  debug(message: string, ...rest: unknown[]): void;
}

/**
 * Routes an SDK's own log lines to ours, keeping only the message: the SDKs pass raw stream data and request details
 * as extra arguments, which may hold conversation content. Their `info` lines (each attempt, each retry) go to debug.
 */
export function sdkLoggerFor(logger: ProviderLogger, provider: string): SdkLogger {
  const fields = { provider };
  return {
    error: (message) => logger.warn(fields, String(message)),
    warn: (message) => logger.warn(fields, String(message)),
    info: (message) => logger.debug(fields, String(message)),
    debug: (message) => logger.debug(fields, String(message)),
  };
}

/** How long a `Retry-After` / `retry-after-ms` header asks to wait, in ms; undefined when absent or unreadable. */
function retryAfterMsOf(headers: Headers | undefined): number | undefined {
  if (headers === undefined) return undefined;
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms)) return ms;
  const value = headers.get('retry-after');
  if (value === null || value === '') return undefined;
  const seconds = Number.parseFloat(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : date - Date.now();
}

type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * The SDKs honour any Retry-After before retrying, however long (one of them without watching the AbortSignal). A
 * response that asks for more than `maxWaitMs` is marked `x-should-retry: false` (a header both SDKs obey), so the
 * run fails at once with `llm_rate_limited` instead of sleeping for an hour.
 */
export function fetchCappingRetryAfter(maxWaitMs: number, inner: FetchFn = fetch): FetchFn {
  return async (input, init) => {
    const response = await inner(input, init);
    if (response.ok) return response;
    const waitMs = retryAfterMsOf(response.headers);
    if (waitMs === undefined || waitMs <= maxWaitMs) return response;
    const headers = new Headers(response.headers);
    headers.set('x-should-retry', 'false');
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}

/**
 * One model request's abort signal: aborted when the run's signal aborts, or when the response stream stays quiet for
 * `idleMs` (the SDK timeouts stop at the response headers, so a stream that stalls later needs this).
 */
class RequestGuard {
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #outer: AbortSignal;
  readonly #idleMs: number;
  #timer: NodeJS.Timeout | undefined;
  #stalled = false;
  #touches = 0;

  constructor(outer: AbortSignal, idleMs: number) {
    this.#outer = outer;
    this.#idleMs = idleMs;
    this.signal = this.#controller.signal;
    if (outer.aborted) this.#controller.abort(outer.reason);
    else outer.addEventListener('abort', this.#onOuterAbort, { once: true });
  }

  /** (Re)starts the idle clock: once the response has started, then on every streamed event. */
  touch(): void {
    this.#touches += 1;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#onQuiet, this.#idleMs);
  }

  /**
   * After the event loop was blocked (a slow synchronous task elsewhere in the process), timers run before the
   * socket data that waited is read: a stall counts only if no event arrives during a short grace period after.
   */
  readonly #onQuiet = (): void => {
    const seen = this.#touches;
    this.#timer = setTimeout(
      () => {
        if (this.#touches !== seen || this.signal.aborted) return;
        this.#stalled = true;
        this.#controller.abort(new Error('the model stream stalled'));
      },
      Math.min(250, Math.ceil(this.#idleMs / 4)),
    );
  };

  /** After the request stopped: rethrows the run's abort reason, or `llm_timeout` for a stall. */
  throwIfStopped(): void {
    this.#outer.throwIfAborted();
    if (this.#stalled)
      throw new AppError(
        'llm_timeout',
        `The model API sent nothing for ${this.#idleMs} ms in the middle of its answer.`,
      );
  }

  dispose(): void {
    this.#touches += 1;
    clearTimeout(this.#timer);
    this.#outer.removeEventListener('abort', this.#onOuterAbort);
  }

  readonly #onOuterAbort = (): void => this.#controller.abort(this.#outer.reason);
}

/** An HTTP error status after the SDK's retries, as a stable code. Raw bodies are left out: they may echo secrets. */
export function httpFailure(status: number, headers: Headers | undefined): AppError {
  const waitMs = retryAfterMsOf(headers);
  const retryAfterSeconds = waitMs === undefined ? undefined : Math.max(1, Math.ceil(waitMs / 1000));
  if (status === 429) {
    const wait = retryAfterSeconds === undefined ? '' : ` It asks to wait ${retryAfterSeconds} s.`;
    return new AppError(
      'llm_rate_limited',
      `The model API is rate limiting this server (429).${wait} Try again later.`,
      retryAfterSeconds === undefined ? {} : { retryAfterSeconds },
    );
  }
  if (status >= 500 || status === 408 || status === 409)
    return new AppError('llm_unavailable', `The model API kept failing (${status}). Try again later.`);
  if (status === 401 || status === 403)
    return new AppError('llm_request_rejected', `The model API refused this server's credentials (${status}).`);
  if (status === 404)
    return new AppError('llm_request_rejected', 'The model API does not know the configured model or endpoint (404).');
  return new AppError(
    'llm_request_rejected',
    `The model API refused the request (${status}), for example because the conversation is too long.`,
  );
}

/** An error the API reported inside a stream that had started well (an SSE `error` event), by its type. */
export function streamedApiFailure(type: string | null | undefined): AppError {
  const kind = type ?? 'unknown';
  if (kind.includes('rate_limit'))
    return new AppError('llm_rate_limited', 'The model API is rate limiting this server. Try again later.');
  if (/invalid_request|authentication|permission|not_found|billing/.test(kind))
    return new AppError('llm_request_rejected', `The model API refused the request (${kind}).`);
  return new AppError(
    'llm_unavailable',
    `The model API failed in the middle of its answer (${kind}). Try again later.`,
  );
}

/** A connection that broke while the body streamed (undici: `TypeError: terminated`), or a refused/reset socket. */
function isBrokenConnection(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'TypeError' && /terminated|fetch failed|network/i.test(err.message)) return true;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^(ECONNRESET|ECONNREFUSED|EPIPE|UND_ERR_)/.test(code);
}

const brokenStream = (): AppError =>
  new AppError('llm_unavailable', 'The connection to the model API broke in the middle of its answer.');
export const malformedStream = (what: string): AppError =>
  new AppError('llm_bad_response', `The model API sent a malformed stream: ${what}.`);

/** An SDK's error classes: both official SDKs come from the same generator and share this hierarchy. */
export interface SdkErrors<A extends Error> {
  readonly timeout: abstract new (...args: never[]) => Error;
  readonly connection: abstract new (...args: never[]) => Error;
  readonly api: abstract new (...args: never[]) => A;
  /** The SDK's base class: anything else it throws means it could not read the stream. */
  readonly base: abstract new (...args: never[]) => Error;
}

/**
 * Turns what an SDK call threw into one of our codes. Timeouts are tested before connection errors (the SDKs make
 * the first a kind of the second); `apiFailure` maps an HTTP error or an `error` event inside the stream.
 */
export function classifySdkError<A extends Error>(
  err: unknown,
  sdk: SdkErrors<A>,
  settings: { readonly timeoutMs: number; readonly maxRetries: number },
  apiFailure: (err: A) => AppError,
): unknown {
  if (isAppError(err)) return err;
  const attempts = `tried ${settings.maxRetries + 1} times`;
  if (err instanceof sdk.timeout)
    return new AppError('llm_timeout', `The model API did not answer within ${settings.timeoutMs} ms (${attempts}).`);
  if (err instanceof sdk.connection)
    return new AppError('llm_unavailable', `The model API cannot be reached (${attempts}).`);
  if (err instanceof sdk.api) return apiFailure(err);
  if (err instanceof SyntaxError) return malformedStream('an event whose data is not JSON');
  if (isBrokenConnection(err)) return brokenStream();
  if (err instanceof sdk.base) return malformedStream('the SDK could not read it');
  return err;
}

export interface StreamCall<E> {
  /** The run's signal. */
  readonly signal: AbortSignal;
  /** Longest quiet time once the response has started. */
  readonly idleMs: number;
  /** Sends the request (the SDK retries it) and resolves with its event stream once the response has started. */
  open(signal: AbortSignal): Promise<AsyncIterable<E>>;
  onEvent(event: E): void;
  /** The SDK's errors as AppErrors; anything it does not recognise is returned unchanged. */
  classify(err: unknown): unknown;
}

/**
 * Runs one streamed request to its end. The SDKs end a stream silently when its signal aborts, so the reason is
 * checked after the loop: a cancel rethrows the run's abort reason, a stall becomes `llm_timeout`.
 */
export async function consumeStream<E>(call: StreamCall<E>): Promise<void> {
  const guard = new RequestGuard(call.signal, call.idleMs);
  try {
    const stream = await call.open(guard.signal);
    guard.touch();
    for await (const event of stream) {
      guard.touch();
      call.onEvent(event);
    }
    guard.throwIfStopped();
  } catch (err) {
    guard.throwIfStopped();
    throw call.classify(err);
  } finally {
    guard.dispose();
  }
}
