import { ClientError } from './errors.js';

export interface HttpCall {
  readonly body?: unknown;
  /** An access token, sent as Bearer. */
  readonly token?: string;
}

/** JSON over fetch; every failure becomes a ClientError with the server's code (or network_error). */
export class HttpApi {
  constructor(
    private readonly baseUrl: string,
    private readonly fetchImpl: typeof fetch,
  ) {}

  async call<T>(method: string, path: string, call: HttpCall = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    if (call.token !== undefined) headers.authorization = `Bearer ${call.token}`;
    let res: Response;
    try {
      res = await this.fetchImpl(this.baseUrl + path, {
        method,
        headers,
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
      });
    } catch (err) {
      throw new ClientError('network_error', `${method} ${path} failed: the server could not be reached.`, {
        cause: err,
      });
    }
    const text = await res.text().catch(() => '');
    const json = parseJson(text);
    if (res.ok) return json as T;
    const retryAfter = Number(res.headers.get('retry-after'));
    const error = errorOf(json);
    throw new ClientError(
      error?.code ?? 'unexpected_response',
      error?.message ?? `${method} ${path} answered ${res.status}.`,
      {
        status: res.status,
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
      },
    );
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorOf(body: unknown): { code: string; message: string } | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const error = body.error;
  if (typeof error !== 'object' || error === null || !('code' in error) || typeof error.code !== 'string')
    return undefined;
  const message = 'message' in error && typeof error.message === 'string' ? error.message : error.code;
  return { code: error.code, message };
}
