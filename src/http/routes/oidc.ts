import { parseCookie, stringifySetCookie } from 'cookie';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthProvidersResponse } from '../../protocol/index.js';
import type { HttpDeps } from '../context.js';

/**
 * Binds a sign-in (and then its login code) to the browser that started it. Over https it is a `__Host-` cookie:
 * no sibling subdomain can plant one of its own (a login CSRF). Path `/`, so a proxy's path prefix does not lose it.
 */
const BROWSER_COOKIE = 'agentgate_oidc';
const SECURE_BROWSER_COOKIE = '__Host-agentgate_oidc';

/**
 * OpenID Connect sign-in (CONTRACT "Sign in with an OpenID Connect provider"). Off (404) without OIDC_ISSUER;
 * GET /auth/providers lists what is on either way.
 */
export function oidcRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { oidc } = deps;
  app.get('/auth/providers', async (): Promise<AuthProvidersResponse> => ({
    providers: oidc === undefined ? [] : [{ id: 'oidc', name: oidc.displayName }],
  }));
  if (oidc === undefined) return;
  // https pages only send it back over https; a plain-http development server could not use a Secure cookie.
  const secure = (): boolean => deps.publicUrl().startsWith('https:');
  const cookieName = (): string => (secure() ? SECURE_BROWSER_COOKIE : BROWSER_COOKIE);
  const cookieOptions = () => ({ path: '/', httpOnly: true, sameSite: 'lax' as const, secure: secure() });
  const browserSecretOf = (request: FastifyRequest): string | undefined => {
    const header = request.headers.cookie;
    return header === undefined ? undefined : parseCookie(header)[cookieName()];
  };

  app.get('/auth/oidc/start', async (request, reply) => {
    const { returnTo } = request.query as { returnTo?: unknown };
    const { location, browserSecret } = await oidc.signIn.start(returnTo, request.ip);
    void reply.header(
      'Set-Cookie',
      stringifySetCookie(cookieName(), browserSecret, { ...cookieOptions(), maxAge: 600 }),
    );
    return reply.redirect(location, 302);
  });

  app.get('/auth/oidc/callback', async (request, reply) => {
    // Appended, not resolved: a PUBLIC_URL with a path (a proxy's prefix) must stay in the redirect URI checked.
    const url = new URL(`${deps.publicUrl()}${request.url}`);
    const { location } = await oidc.signIn.callback(url, browserSecretOf(request));
    return reply.redirect(location, 302);
  });

  app.post('/auth/oidc/exchange', async (request, reply) => {
    const { code } = (request.body ?? {}) as { code?: unknown };
    const body = await oidc.signIn.exchange(code, browserSecretOf(request), request.ip);
    // Its work is done: the browser forgets the binding.
    void reply.header('Set-Cookie', stringifySetCookie(cookieName(), '', { ...cookieOptions(), maxAge: 0 }));
    return body;
  });
}
