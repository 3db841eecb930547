import { loadSigningKeys, PasswordHasher, UserAdmin } from '../auth/index.js';
import type { Config } from '../config/index.js';
import { peekPostgresSetting, peekSqliteSetting, SIGNING_KEY_SETTING } from '../storage/index.js';
import { openDurableStores, revocationAnnouncer } from './backends.js';

/**
 * Account administration on the configured database, without a running server (the CLI's `user` commands). With
 * Redis, a disabled account's open sockets are closed by the running servers at once.
 */
export async function openUserAdmin(config: Config): Promise<{ admin: UserAdmin; close: () => Promise<void> }> {
  const stores = await openDurableStores(config);
  const admin = new UserAdmin({
    users: stores.users,
    passwords: new PasswordHasher(),
    adminEmails: config.adminEmails,
    announceRevocations: revocationAnnouncer(config),
    now: Date.now,
  });
  return { admin, close: stores.close };
}

/**
 * Records the configured signing key as the one every instance sharing the database must use: the deliberate half
 * of a key rotation (`agentgate signing-key adopt`, run with every instance stopped). Answers the fingerprints.
 */
export async function adoptSigningKey(config: Config): Promise<{ previous: string | undefined; adopted: string }> {
  const stores = await openDurableStores(config);
  try {
    const keys = await loadSigningKeys({ secretKey: config.jwt.secretKey, dataDir: config.dataDir });
    const nowIso = new Date().toISOString();
    const previous = await stores.signingKeyRegistry.recordOrGet(keys.fingerprint, nowIso);
    await stores.signingKeyRegistry.replace(keys.fingerprint, nowIso);
    return { previous: previous === keys.fingerprint ? undefined : previous, adopted: keys.fingerprint };
  } finally {
    await stores.close();
  }
}

/**
 * Whether the configured JWT_SECRET_KEY is the one recorded in the database, read without opening the database for
 * serving (nothing is created, migrated or written): for `check-config`. `unknown` without JWT_SECRET_KEY (the
 * development key lives in DATA_DIR) or when nothing is recorded yet. Throws when the database cannot be reached.
 */
export async function signingKeyMatch(config: Config): Promise<'matches' | 'differs' | 'unknown'> {
  if (config.jwt.secretKey === undefined) return 'unknown';
  const keys = await loadSigningKeys({ secretKey: config.jwt.secretKey, dataDir: config.dataDir });
  const recorded =
    config.database === undefined
      ? peekSqliteSetting(config.dataDir, SIGNING_KEY_SETTING)
      : await peekPostgresSetting(config.database.url, SIGNING_KEY_SETTING);
  if (recorded === undefined) return 'unknown';
  return recorded === keys.fingerprint ? 'matches' : 'differs';
}
