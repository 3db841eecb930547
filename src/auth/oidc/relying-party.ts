import * as oidc from 'openid-client';
import type { IdentityProfile } from '../identity-accounts.js';
import type { ExternalIdentity } from '../ports.js';

export interface RelyingPartySettings {
  readonly issuer: string;
  readonly clientId: string;
  /** Undefined: a public client (PKCE only). */
  readonly clientSecret: string | undefined;
  readonly scopes: string;
}

/** What the authorization request was made with: checked against what comes back. */
export interface AuthorizationChecks {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

/** How long a failed discovery keeps the sign-in refused before the provider is asked again. */
const DISCOVERY_RETRY_MS = 10_000;

/**
 * agentgate as an OpenID Connect relying party, through openid-client (panva's certified library): discovery, the
 * authorization URL with PKCE (S256), state and nonce, the code exchange and every ID token check. The ID token's
 * signature is verified too, though it comes straight from the token endpoint over TLS (the library skips that by
 * default; `enableNonRepudiationChecks` turns it on).
 */
export class RelyingParty {
  private configuration: Promise<oidc.Configuration> | undefined;
  private failedAt = 0;

  constructor(private readonly settings: RelyingPartySettings) {}

  /** The provider's configuration, discovered on first use (the provider may start after agentgate). */
  private async config(): Promise<oidc.Configuration> {
    if (this.configuration === undefined && Date.now() - this.failedAt > DISCOVERY_RETRY_MS) {
      this.configuration = this.discover().catch((err: unknown) => {
        this.configuration = undefined;
        this.failedAt = Date.now();
        throw err;
      });
    }
    if (this.configuration === undefined) throw new Error('the OpenID provider was unreachable moments ago');
    return this.configuration;
  }

  private async discover(): Promise<oidc.Configuration> {
    const { issuer, clientId, clientSecret } = this.settings;
    const url = new URL(issuer);
    // One discovery; the client authentication follows what it advertises: basic when offered (the spec's default),
    // else post; none for a public client.
    const discovered = await oidc.discovery(url, clientId, undefined, oidc.None(), { execute: insecureFor(url) });
    const metadata = discovered.serverMetadata();
    const methods = metadata.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
    const auth =
      clientSecret === undefined
        ? oidc.None()
        : methods.includes('client_secret_basic')
          ? oidc.ClientSecretBasic(clientSecret)
          : oidc.ClientSecretPost(clientSecret);
    const config = new oidc.Configuration(metadata, clientId, undefined, auth);
    for (const apply of [...insecureFor(url), oidc.enableNonRepudiationChecks]) apply(config);
    return config;
  }

  /** The URL to send the browser to, and the checks its answer must pass. */
  async authorizationUrl(redirectUri: string): Promise<{ url: URL; checks: AuthorizationChecks }> {
    const config = await this.config();
    const checks = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
    };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.settings.scopes,
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
      state: checks.state,
      nonce: checks.nonce,
    });
    return { url, checks };
  }

  /**
   * Exchanges the code of `callbackUrl` and checks the ID token (signature, iss, aud, exp, nonce); the email and
   * its verification come from the ID token, else from userinfo. Throws on any failure.
   */
  async finish(
    callbackUrl: URL,
    checks: AuthorizationChecks,
  ): Promise<{ identity: ExternalIdentity; profile: IdentityProfile }> {
    const config = await this.config();
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: checks.codeVerifier,
      expectedState: checks.state,
      expectedNonce: checks.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (claims === undefined) throw new Error('no ID token');
    let source: Record<string, unknown> = claims;
    if (typeof claims.email !== 'string' && tokens.access_token !== undefined) {
      source = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    }
    return {
      identity: { issuer: claims.iss, subject: claims.sub },
      profile: {
        email: typeof source.email === 'string' ? source.email : undefined,
        emailVerified: source.email_verified === true,
        name: typeof source.name === 'string' ? source.name : undefined,
      },
    };
  }
}

/** http:// is accepted for a provider on this machine only (config refuses it elsewhere, and in production). */
function insecureFor(url: URL): Array<(config: oidc.Configuration) => void> {
  return url.protocol === 'http:' ? [oidc.allowInsecureRequests] : [];
}
