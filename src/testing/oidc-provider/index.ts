// A real OpenID Provider (panva's oidc-provider) for tests: import from here, not from src/testing/index.ts, so
// that only the suites that need it load it.
export { startOidcProvider } from './provider.js';
export type { AccountClaims } from './interaction.js';
export type { IdTokenRewrite, IdTokenTamper, OidcProviderHarness, OidcProviderOptions } from './provider.js';
export type { ClientSettings } from './adapter.js';
export { Browser } from './browser.js';
export type { BrowserResponse, SignInResult } from './browser.js';
export { CookieJar } from './cookie-jar.js';
export { generateSigningKey, signJwt } from './keys.js';
export type { Signer, SigningKey } from './keys.js';
