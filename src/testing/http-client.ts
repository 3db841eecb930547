import type { AuthResponse } from '../protocol/index.js';

export interface HttpResult<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** fetch with JSON in and out, for tests. */
export async function request<T = Record<string, unknown>>(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(baseUrl + path, {
    method,
    headers,
    ...(options.body === undefined
      ? {}
      : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: body as T };
}

let counter = 0;

/** Registers a fresh user and returns its tokens. */
export async function registerUser(
  baseUrl: string,
  prefix = 'user',
): Promise<AuthResponse & { email: string; password: string }> {
  const email = `${prefix}-${process.pid}-${Date.now()}-${++counter}@example.com`;
  const password = 'correct horse battery';
  const res = await request<AuthResponse>(baseUrl, 'POST', '/auth/register', { body: { email, password } });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...res.body, email, password };
}
