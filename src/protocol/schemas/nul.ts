/**
 * Whether any string in a parsed JSON value (object keys included) holds U+0000. Such text is refused at the edge
 * (400 `invalid_request`; `invalid_message` on the socket): PostgreSQL's `text` cannot store it, and no client has
 * a reason to send it. Iterative, so a deeply nested body cannot exhaust the stack.
 */
export function containsNul(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === 'string') {
      if (next.includes('\u0000')) return true;
    } else if (Array.isArray(next)) {
      for (const item of next) pending.push(item);
    } else if (typeof next === 'object' && next !== null) {
      for (const [key, item] of Object.entries(next)) {
        if (key.includes('\u0000')) return true;
        pending.push(item);
      }
    }
  }
  return false;
}

export const NUL_REFUSED = 'Text must not contain the NUL character (U+0000).';

/**
 * Whether a request body holds U+0000 anywhere but in a top-level `password`: a password is only ever hashed, never
 * stored, and any character of it counts (a NUL in it is kept, never a place where it is cut).
 */
export function bodyContainsNul(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('password' in body)) {
    return containsNul(body);
  }
  const { password: _password, ...rest } = body as Record<string, unknown>;
  return containsNul(rest);
}
