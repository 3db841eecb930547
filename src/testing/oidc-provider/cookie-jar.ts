interface StoredCookie {
  readonly name: string;
  readonly value: string;
  readonly host: string;
  readonly path: string;
  readonly expiresAt: number;
}

/**
 * The cookie rules a browser applies that matter to a redirect dance: host (ports ignored, as browsers do), path
 * prefix, Max-Age/Expires and deletion. Secure is ignored: browsers treat loopback as a secure context anyway.
 */
export class CookieJar {
  private cookies: StoredCookie[] = [];

  /** Records the Set-Cookie headers of a response to `url`. */
  store(url: URL, setCookieHeaders: readonly string[]): void {
    for (const header of setCookieHeaders) {
      const [pair = '', ...attributes] = header.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq);
      let path = url.pathname.slice(0, url.pathname.lastIndexOf('/')) || '/';
      let expiresAt = Infinity;
      for (const attribute of attributes) {
        const [key = '', value = ''] = attribute.split('=', 2).map((s) => s.trim());
        if (/^path$/i.test(key) && value.startsWith('/')) path = value;
        else if (/^max-age$/i.test(key)) expiresAt = Date.now() + Number(value) * 1000;
        else if (/^expires$/i.test(key) && expiresAt === Infinity) expiresAt = Date.parse(value);
      }
      this.cookies = this.cookies.filter((c) => !(c.name === name && c.host === url.hostname && c.path === path));
      if (expiresAt > Date.now())
        this.cookies.push({ name, value: pair.slice(eq + 1), host: url.hostname, path, expiresAt });
    }
  }

  /** The Cookie header a browser would send to `url`, or undefined. */
  header(url: URL): string | undefined {
    const now = Date.now();
    const matching = this.cookies.filter(
      (c) =>
        c.host === url.hostname &&
        c.expiresAt > now &&
        (url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)),
    );
    // Longer paths first, as RFC 6265 5.4 orders them.
    matching.sort((a, b) => b.path.length - a.path.length);
    return matching.length === 0 ? undefined : matching.map((c) => `${c.name}=${c.value}`).join('; ');
  }

  /** An independent copy (the cookies as they are now). */
  clone(): CookieJar {
    const copy = new CookieJar();
    copy.cookies = [...this.cookies];
    return copy;
  }

  /** Names of the cookies held for `url`'s host. */
  names(url: URL): string[] {
    return this.cookies.filter((c) => c.host === url.hostname && c.expiresAt > Date.now()).map((c) => c.name);
  }
}
