/**
 * Keeps one secret (the run's agent token) out of what an agent streams back: an agent that echoes its request
 * would otherwise hand the token to the user's events. Text streams in pieces, so a piece's tail that could be the
 * start of the secret is held until the next piece shows it is not.
 */
export class StreamRedactor {
  private held = '';

  constructor(private readonly secret: string) {}

  /** The text that is safe to emit now. */
  push(piece: string): string {
    const text = redactText(this.held + piece, this.secret);
    const keep = longestSecretPrefixAtEnd(text, this.secret);
    this.held = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  /** What is held back, at the end of the stream (it was not the secret). */
  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }
}

export const REDACTED = '[redacted]';

export function redactText(text: string, secret: string): string {
  return secret === '' ? text : text.split(secret).join(REDACTED);
}

/** A JSON value with every occurrence of the secret in its strings (and keys) redacted. */
export function redactJson<T>(value: T, secret: string): T {
  const json = JSON.stringify(value);
  if (json === undefined || !json.includes(secret)) return value;
  return JSON.parse(redactText(json, secret)) as T;
}

function longestSecretPrefixAtEnd(text: string, secret: string): number {
  for (let n = Math.min(secret.length - 1, text.length); n > 0; n--) {
    if (text.endsWith(secret.slice(0, n))) return n;
  }
  return 0;
}
