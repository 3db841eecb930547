import { normalizeOrigin } from '../config/index.js';

/** The development default for ALLOWED_ORIGINS: this server's own origin, under both loopback names. */
export function ownOriginsOf(publicUrl: string, port: number): string[] {
  const origins = new Set<string>();
  const own = normalizeOrigin(publicUrl);
  if (own !== undefined) origins.add(own);
  const host = new URL(publicUrl).hostname;
  if (['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '[::]'].includes(host)) {
    origins.add(`http://localhost:${port}`);
    origins.add(`http://127.0.0.1:${port}`);
  }
  return [...origins];
}
