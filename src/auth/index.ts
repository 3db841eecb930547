export { AccessTokens } from './access-tokens.js';
export { AGENT_TOKEN_TYP, AgentTokens } from './agent-tokens.js';
export type { AgentTokenSubject } from './agent-tokens.js';
export { AuthService } from './auth-service.js';
export type { Principal } from './auth-service.js';
export { normalizeEmail } from './emails.js';
export { UserAdmin } from './user-admin.js';
export type { UserView } from './user-admin.js';
export { PasswordHasher } from './passwords.js';
export type {
  AttemptLimiter,
  BusLink,
  NewRefreshToken,
  RevocationBus,
  RotationResult,
  SessionRecord,
  SigningKeyRegistry,
  TicketRecord,
  TicketStore,
  OneTimeStore,
  TokenStore,
  UserRecord,
  ExternalIdentity,
  UserStore,
} from './ports.js';
export { hashSecret, newOpaqueSecret } from './secrets.js';
export { checkSigningKey, devKeyFingerprint, loadSigningKeys } from './signing-keys.js';
export { SessionCache } from './session-cache.js';
export { Tickets } from './tickets.js';
export { principalOfTickets } from './ticket-principal.js';
export { parseBearerHeader } from './bearer.js';
export { DependencyGuard } from './dependency-guard.js';
export { OidcSignIn, RelyingParty, safeReturnTo } from './oidc/index.js';
export type { LoginCode, PendingSignIn } from './oidc/index.js';
export type { IdentityProfile } from './identity-accounts.js';
export { ExternalTokens } from './external-tokens.js';
