import { PasswordHasher, UserAdmin } from '../auth/index.js';
import type { Config } from '../config/index.js';
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
