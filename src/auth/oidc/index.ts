export { OidcSignIn, safeReturnTo } from './sign-in.js';
export type { LoginCode, OidcSignInDeps, PendingSignIn } from './sign-in.js';
export { RelyingParty } from './relying-party.js';
export type { RelyingPartySettings } from './relying-party.js';
