import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import Provider, { errors, type AdapterPayload, type ProviderContext } from 'oidc-provider';
import { clientMetadata, memoryAdapterFactory, type ClientSettings } from './adapter.js';
import { Browser } from './browser.js';
import { harnessPolicy, interact, type AccountClaims } from './interaction.js';
import { generateSigningKey, hs256WithPublicKey, signJwt, type Signer, type SigningKey } from './keys.js';
import { resourceAccessToken } from './resource-token.js';

/** What a tamper hook returns: replacement claims and/or another signer (default: the key that signed it). */
export interface IdTokenRewrite {
  readonly claims?: JWTPayload;
  readonly signer?: Signer;
}

/** Receives the ID token's payload as the provider issued it; undefined leaves the token alone. */
export type IdTokenTamper = (claims: JWTPayload) => IdTokenRewrite | undefined;

export interface OidcProviderOptions {
  /** false (default): like many providers, the ID token of a code flow carries sub only and email is at userinfo. */
  readonly claimsInIdToken?: boolean;
  /** What discovery advertises (default: basic, post and none). */
  readonly tokenEndpointAuthMethods?: ReadonlyArray<'client_secret_basic' | 'client_secret_post' | 'none'>;
}

export interface OidcProviderHarness {
  /** http://127.0.0.1:<port>, also the `iss` of everything it signs. */
  readonly issuer: string;
  /** Its JWKS: ID tokens are RS256 unless the client asks for ES256. */
  readonly keys: { readonly rs256: SigningKey; readonly es256: SigningKey };
  /** Not in the JWKS, but with the RS256 key's kid and alg: a forgery a verifier only catches by the signature. */
  readonly foreignKey: SigningKey;
  /** HS256 keyed with the RS256 public key (algorithm confusion). */
  readonly confusedSigner: Signer;
  /** The resource indicator (and `aud`) of the JWT access tokens accessToken() gets. */
  readonly resource: string;
  /** Who the next logins sign in as (a sub set with setAccount). Stays until changed. */
  nextAccount: string;
  /** 'refuse': the interaction answers access_denied. Stays until changed. */
  nextInteraction: 'login' | 'refuse';
  /** Rewrites the ID token of every token response while set. */
  tamperIdToken: IdTokenTamper | undefined;
  /** Algorithm of the JWT access tokens (default RS256). */
  accessTokenAlg: 'RS256' | 'ES256';
  /** The query of every authorization request received, in order (to check PKCE, nonce, state, scope). */
  readonly authorizationRequests: readonly URLSearchParams[];
  /** Errors the provider reported as server_error: a test can assert there are none. */
  readonly serverErrors: readonly Error[];
  setClient(client: ClientSettings): void;
  setAccount(sub: string, claims?: AccountClaims): void;
  /** A real JWT access token for `resource`, issued to `sub` through a code flow of the harness's own client. */
  accessToken(sub: string): Promise<string>;
  /** Typical access-token claims (iss, sub, aud = resource, iat, exp in 5 min, jti, client_id, scope) + `over`. */
  accessTokenClaims(sub: string, over?: JWTPayload): JWTPayload;
  /** Signs anything: forged, expired, wrong-audience tokens, `alg: none`, HS256 (default signer: the RS256 key). */
  sign(claims: JWTPayload, signer?: Signer, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

const HARNESS_CLIENT = 'oidc-harness-resource-client';
const HARNESS_REDIRECT = 'http://127.0.0.1/oidc-harness/callback';

/** A real oidc-provider on 127.0.0.1 (port 0), with interactions that answer themselves. */
export async function startOidcProvider(options: OidcProviderOptions = {}): Promise<OidcProviderHarness> {
  const [rs256, es256] = await Promise.all([generateSigningKey('RS256'), generateSigningKey('ES256')]);
  const foreignKey = await generateSigningKey('RS256', rs256.kid);
  const accounts = new Map<string, AccountClaims>();
  const clients = new Map<string, AdapterPayload>();
  const harnessSecret = randomBytes(24).toString('base64url');
  clients.set(
    HARNESS_CLIENT,
    clientMetadata({
      clientId: HARNESS_CLIENT,
      clientSecret: harnessSecret,
      redirectUris: [HARNESS_REDIRECT],
      tokenEndpointAuthMethod: 'client_secret_basic',
    }),
  );

  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const resource = `${issuer}/api`;

  const authorizationRequests: URLSearchParams[] = [];
  const serverErrors: Error[] = [];
  const harness: OidcProviderHarness = {
    issuer,
    keys: { rs256, es256 },
    foreignKey,
    confusedSigner: hs256WithPublicKey(rs256),
    resource,
    nextAccount: 'alice',
    nextInteraction: 'login',
    tamperIdToken: undefined,
    accessTokenAlg: 'RS256',
    authorizationRequests,
    serverErrors,
    setClient: (client) => clients.set(client.clientId, clientMetadata(client)),
    setAccount: (sub, claims = {}) => accounts.set(sub, claims),
    accessToken: async (sub) => {
      if (!accounts.has(sub)) accounts.set(sub, {});
      return resourceAccessToken(new Browser(), {
        issuer,
        resource,
        sub,
        clientId: HARNESS_CLIENT,
        clientSecret: harnessSecret,
        redirectUri: HARNESS_REDIRECT,
      });
    },
    accessTokenClaims: (sub, over = {}) => {
      const now = Math.floor(Date.now() / 1000);
      const base = { iss: issuer, sub, aud: resource, iat: now, exp: now + 300, jti: randomUUID() };
      return { ...base, client_id: HARNESS_CLIENT, scope: 'api', ...over };
    },
    sign: (claims, signer = rs256, header = {}) => signJwt(claims, signer, header),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const provider = new Provider(issuer, {
    adapter: memoryAdapterFactory(clients),
    jwks: { keys: [rs256.privateJwk, es256.privateJwk] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    clientAuthMethods: options.tokenEndpointAuthMethods ?? ['client_secret_basic', 'client_secret_post', 'none'],
    conformIdTokenClaims: options.claimsInIdToken !== true,
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    findAccount: (_ctx: unknown, sub: string) => {
      const claims = accounts.get(sub);
      return claims === undefined ? undefined : { accountId: sub, claims: () => ({ sub, ...claims }) };
    },
    // PKCE for every client: an app that skips it fails here rather than passing unnoticed.
    pkce: { required: () => true },
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
      policy: harnessPolicy,
    },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          if (indicator !== resource) throw new errors.InvalidTarget();
          const sign = { alg: harness.accessTokenAlg };
          return { scope: 'api', audience: resource, accessTokenTTL: 300, accessTokenFormat: 'jwt', jwt: { sign } };
        },
      },
    },
    ttl: { AccessToken: 300, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
    renderError: (ctx: ProviderContext, out: Record<string, string>) => {
      ctx.status = ctx.status >= 400 ? ctx.status : 400;
      ctx.body = out;
    },
  });
  provider.on('server_error', (_ctx, error) => serverErrors.push(error));
  provider.use(async (ctx, next) => {
    if (ctx.path === '/auth') authorizationRequests.push(new URLSearchParams(ctx.querystring));
    await next();
    if (ctx.path === '/token' && ctx.status === 200) await rewriteIdToken(ctx, harness.tamperIdToken, [rs256, es256]);
  });

  const callback = provider.callback();
  handle = (req, res) => {
    if (!req.url?.startsWith('/interaction/')) return callback(req, res);
    interact(provider, { ...harness, ownClientId: HARNESS_CLIENT }, accounts, req, res).catch((error: unknown) => {
      serverErrors.push(error instanceof Error ? error : new Error(String(error)));
      if (!res.headersSent) res.writeHead(500).end(String(error));
    });
  };
  return harness;
}

/** Re-signs the token response's ID token as the tamper hook says: the provider's real response, altered. */
async function rewriteIdToken(
  ctx: ProviderContext,
  tamper: IdTokenTamper | undefined,
  keys: readonly SigningKey[],
): Promise<void> {
  const body = ctx.body as Record<string, unknown> | undefined;
  if (tamper === undefined || typeof body?.id_token !== 'string') return;
  const rewrite = tamper(decodeJwt(body.id_token));
  if (rewrite === undefined) return;
  const original = decodeProtectedHeader(body.id_token);
  const claims = rewrite.claims ?? decodeJwt(body.id_token);
  // By default the key that signed the original: altered claims under the provider's genuine signature.
  const signer = rewrite.signer ?? keys.find((k) => k.kid === original.kid) ?? keys[0];
  if (signer === undefined) throw new Error('no signing key');
  ctx.body = {
    ...body,
    id_token: await signJwt(claims, signer, original.typ === undefined ? {} : { typ: original.typ }),
  };
}
