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
