// The OIDC provider harness against a client nobody here wrote (openid-client): discovery, a code flow with PKCE,
// userinfo, the tamper knob, refusal, and JWT access tokens for a resource.
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Browser, startOidcProvider, type OidcProviderHarness } from '../../src/testing/oidc-provider/index.js';

const REDIRECT = 'http://127.0.0.1:1/callback';
const SECRET = 'self-test-secret-self-test-secret';

let provider: OidcProviderHarness;
let config: oidc.Configuration;
beforeAll(async () => {
  provider = await startOidcProvider();
  provider.setAccount('alice', { email: 'alice@example.com', email_verified: true, name: 'Alice' });
  provider.setClient({
    clientId: 'self-test',
    clientSecret: SECRET,
    redirectUris: [REDIRECT],
    tokenEndpointAuthMethod: 'client_secret_basic',
  });
  config = await oidc.discovery(new URL(provider.issuer), 'self-test', SECRET, oidc.ClientSecretBasic(SECRET), {
    execute: [oidc.allowInsecureRequests],
  });
});
afterAll(() => provider?.close());
afterEach(() => {
  provider.tamperIdToken = undefined;
  provider.nextInteraction = 'login';
  expect(provider.serverErrors).toEqual([]);
});

/** An authorization request as openid-client builds it, followed by a cookie-keeping browser up to the redirect. */
async function authorize(c: oidc.Configuration = config, redirect = REDIRECT) {
  const verifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(c, {
    redirect_uri: redirect,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state,
  });
  const back = await new Browser().followUntil(url, (u) => u.href.startsWith(redirect));
  return { back, checks: { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state } };
}

describe('oidc-provider harness', () => {
  it('discovery names the issuer, S256 and the JWKS with both keys', async () => {
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(provider.issuer);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    const jwks = (await (await fetch(meta.jwks_uri ?? '')).json()) as { keys: Array<{ kid: string; d?: string }> };
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual([provider.keys.rs256.kid, provider.keys.es256.kid].sort());
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
  });

  it('a code flow with PKCE: ID token for the chosen account, verified by its signature; email at userinfo', async () => {
    const { back, checks } = await authorize();
    const verifying = new oidc.Configuration(config.serverMetadata(), 'self-test', SECRET);
    oidc.allowInsecureRequests(verifying);
    oidc.enableNonRepudiationChecks(verifying);
    const tokens = await oidc.authorizationCodeGrant(verifying, back, checks);
    const claims = tokens.claims();
    expect(claims).toMatchObject({ iss: provider.issuer, sub: 'alice', aud: 'self-test', nonce: checks.expectedNonce });
    expect(decodeProtectedHeader(tokens.id_token ?? '')).toMatchObject({ alg: 'RS256', kid: provider.keys.rs256.kid });
    const info = await oidc.fetchUserInfo(config, tokens.access_token, 'alice');
    expect(info).toMatchObject({ email: 'alice@example.com', email_verified: true, name: 'Alice' });
    const pkce = provider.authorizationRequests.at(-1);
    expect(pkce?.get('code_challenge_method')).toBe('S256');
  });

  it('a code is single-use', async () => {
    const { back, checks } = await authorize();
    await oidc.authorizationCodeGrant(config, back, checks);
    await expect(oidc.authorizationCodeGrant(config, back, checks)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('nextAccount picks who logs in, even when the browser already has a provider session', async () => {
    provider.setAccount('bob', { email: 'bob@example.com' });
    const browser = new Browser();
    const subs: string[] = [];
    for (const who of ['alice', 'bob']) {
      provider.nextAccount = who;
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 's',
      });
      const back = await browser.followUntil(url, (u) => u.href.startsWith(REDIRECT));
      const tokens = await oidc.authorizationCodeGrant(config, back, {
        pkceCodeVerifier: verifier,
        expectedState: 's',
      });
      subs.push(tokens.claims()?.sub ?? '');
    }
    provider.nextAccount = 'alice';
    expect(subs).toEqual(['alice', 'bob']);
  });

  it("nextInteraction 'refuse' sends the browser back with error=access_denied", async () => {
    provider.nextInteraction = 'refuse';
    const { back, checks } = await authorize();
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe(checks.expectedState);
    expect(back.searchParams.has('code')).toBe(false);
  });

  it('tamperIdToken rewrites the token response: openid-client sees the wrong nonce, and the foreign signature', async () => {
    provider.tamperIdToken = (claims) => ({ claims: { ...claims, nonce: 'not-yours' } });
    const first = await authorize();
    await expect(oidc.authorizationCodeGrant(config, first.back, first.checks)).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/nonce/) },
    });

    provider.tamperIdToken = () => ({ signer: provider.foreignKey });
    const second = await authorize();
    const verifying = new oidc.Configuration(config.serverMetadata(), 'self-test', SECRET);
    oidc.allowInsecureRequests(verifying);
    oidc.enableNonRepudiationChecks(verifying);
    await expect(oidc.authorizationCodeGrant(verifying, second.back, second.checks)).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/signature/i) },
    });
  });

  it('setClient after start: a new redirect URI works at once, the old one no longer does', async () => {
    const later = 'http://127.0.0.1:2/later';
    provider.setClient({
      clientId: 'self-test',
      clientSecret: SECRET,
      redirectUris: [later],
      tokenEndpointAuthMethod: 'client_secret_basic',
    });
    try {
      const { back, checks } = await authorize(config, later);
      expect((await oidc.authorizationCodeGrant(config, back, checks)).claims()?.sub).toBe('alice');
      await expect(authorize()).rejects.toThrow(/redirect_uri/);
    } finally {
      provider.setClient({
        clientId: 'self-test',
        clientSecret: SECRET,
        redirectUris: [REDIRECT],
        tokenEndpointAuthMethod: 'client_secret_basic',
      });
    }
  });

  it('a public client (token_endpoint_auth_method none) gets tokens with PKCE alone', async () => {
    provider.setClient({ clientId: 'public', redirectUris: [REDIRECT], tokenEndpointAuthMethod: 'none' });
    const pub = await oidc.discovery(new URL(provider.issuer), 'public', undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
    const { back, checks } = await authorize(pub);
    expect((await oidc.authorizationCodeGrant(pub, back, checks)).claims()?.sub).toBe('alice');
  });

  it('claimsInIdToken: the ID token itself carries email, email_verified and name', async () => {
    const other = await startOidcProvider({ claimsInIdToken: true });
    try {
      other.setAccount('erin', { email: 'erin@example.com', email_verified: false, name: 'Erin' });
      other.nextAccount = 'erin';
      other.setClient({
        clientId: 'c',
        clientSecret: SECRET,
        redirectUris: [REDIRECT],
        tokenEndpointAuthMethod: 'client_secret_post',
      });
      const c = await oidc.discovery(new URL(other.issuer), 'c', SECRET, oidc.ClientSecretPost(SECRET), {
        execute: [oidc.allowInsecureRequests],
      });
      const { back, checks } = await authorize(c);
      const claims = (await oidc.authorizationCodeGrant(c, back, checks)).claims();
      expect(claims).toMatchObject({ sub: 'erin', email: 'erin@example.com', email_verified: false, name: 'Erin' });
    } finally {
      await other.close();
    }
  });

  it.each(['RS256', 'ES256'] as const)(
    'accessToken(): a real %s JWT for the resource, verified with the JWKS',
    async (alg) => {
      provider.accessTokenAlg = alg;
      const token = await provider.accessToken('carol');
      provider.accessTokenAlg = 'RS256';
      const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri ?? ''));
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: provider.issuer,
        audience: provider.resource,
      });
      expect(protectedHeader).toMatchObject({ alg, typ: 'at+jwt' });
      expect(payload.sub).toBe('carol');
      expect(typeof payload.exp).toBe('number');
    },
  );

  it('sign(): forged tokens fail verification against the JWKS; genuine-key ones pass', async () => {
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri ?? ''));
    const options = { issuer: provider.issuer, audience: provider.resource };
    const claims = provider.accessTokenClaims('dave');
    await expect(jwtVerify(await provider.sign(claims), jwks, options)).resolves.toBeDefined();
    await expect(jwtVerify(await provider.sign(claims, provider.keys.es256), jwks, options)).resolves.toBeDefined();
    await expect(jwtVerify(await provider.sign(claims, provider.foreignKey), jwks, options)).rejects.toThrow();
    await expect(jwtVerify(await provider.sign(claims, provider.confusedSigner), jwks, options)).rejects.toThrow();
    const none = await provider.sign(claims, { alg: 'none' });
    expect(decodeProtectedHeader(none).alg).toBe('none');
    expect(decodeJwt(none).sub).toBe('dave');
    await expect(jwtVerify(none, jwks, options)).rejects.toThrow();
    const expired = provider.accessTokenClaims('dave', { exp: Math.floor(Date.now() / 1000) - 60 });
    await expect(jwtVerify(await provider.sign(expired), jwks, options)).rejects.toThrow(/exp/);
  });
});
