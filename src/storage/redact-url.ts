/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '[redacted]';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
