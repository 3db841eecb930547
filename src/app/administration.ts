import { devKeyFingerprint, loadSigningKeys, PasswordHasher, UserAdmin } from '../auth/index.js';
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
 * Whether the configured signing key (JWT_SECRET_KEY, or the development key in DATA_DIR) is the one recorded in
 * the database, read without opening the database for serving (nothing is created, migrated or written): for
 * `check-config`. `unknown` when nothing is recorded yet. Throws when the database cannot be reached.
 */
export async function signingKeyMatch(config: Config): Promise<'matches' | 'differs' | 'unknown'> {
  const recorded =
    config.database === undefined
      ? peekSqliteSetting(config.dataDir, SIGNING_KEY_SETTING)
      : await peekPostgresSetting(config.database.url, SIGNING_KEY_SETTING);
  if (recorded === undefined) return 'unknown';
  const fingerprint =
    config.jwt.secretKey === undefined
      ? await devKeyFingerprint(config.dataDir)
      : (await loadSigningKeys({ secretKey: config.jwt.secretKey, dataDir: config.dataDir })).fingerprint;
  // No key in DATA_DIR yet: serve would create one, which cannot be the recorded key.
  return recorded === fingerprint ? 'matches' : 'differs';
}
