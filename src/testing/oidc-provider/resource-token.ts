import { createHash, randomBytes } from 'node:crypto';
import type { Browser } from './browser.js';

export interface ResourceTokenRequest {
  readonly issuer: string;
  readonly resource: string;
  readonly sub: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUri: string;
}

/**
 * A code flow with PKCE and a resource indicator (RFC 8707) for the harness's own client: the provider then issues
 * its access token as a JWT for that resource. login_hint tells the harness's interaction whom to log in.
 */
export async function resourceAccessToken(browser: Browser, r: ResourceTokenRequest): Promise<string> {
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL('/auth', r.issuer);
  authorize.search = new URLSearchParams({
    client_id: r.clientId,
    response_type: 'code',
    scope: 'openid api',
    redirect_uri: r.redirectUri,
    resource: r.resource,
    login_hint: r.sub,
    state: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const back = await browser.followUntil(authorize, (u) => u.href.startsWith(r.redirectUri));
  const code = back.searchParams.get('code');
  if (code === null) throw new Error(`no code in ${back.href}`);
  const res = await fetch(new URL('/token', r.issuer), {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${r.clientId}:${r.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: r.redirectUri,
      code_verifier: verifier,
      resource: r.resource,
    }),
  });
  const body = (await res.json()) as { access_token?: unknown };
  if (!res.ok || typeof body.access_token !== 'string')
    throw new Error(`token endpoint: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}
