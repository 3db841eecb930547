export { ACCESS_TOKEN_TYP, AccessTokens } from './access-tokens.js';
export type { AccessClaims, AccessTokenOptions } from './access-tokens.js';
export { AuthService } from './auth-service.js';
export type { AuthServiceDeps, Principal } from './auth-service.js';
export { isAdminEmail, normalizeEmail } from './emails.js';
export { UserAdmin } from './user-admin.js';
export type { Announcement, UserAdminDeps, UserView } from './user-admin.js';
export { ARGON2_OPTIONS, PasswordHasher } from './passwords.js';
export type {
  AttemptLimiter,
  NewRefreshToken,
  RevocationBus,
  RotationResult,
  TicketRecord,
  TicketStore,
  TokenStore,
  UserRecord,
  UserStore,
} from './ports.js';
export { hashSecret, newOpaqueSecret } from './secrets.js';
export { DEV_KEY_FILE, loadSigningKeys } from './signing-keys.js';
export type { SigningKeys } from './signing-keys.js';
export { Tickets } from './tickets.js';
export { parseBearerHeader } from './bearer.js';
export { DependencyGuard } from './dependency-guard.js';
