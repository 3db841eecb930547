import type { Kysely } from 'kysely';
import { normalizeEmail, type ExternalIdentity, type UserRecord, type UserStore } from '../../auth/index.js';
import { AppError } from '../../errors/index.js';
import type { Database, UsersTable } from '../schema.js';
import { revokeLiveFamilies } from './token-store.js';
import { isUniqueViolation } from './errors.js';

export class SqlUserStore implements UserStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(user: UserRecord): Promise<void> {
    await insertUser(this.db, user);
  }

  async findByIdentity(issuer: string, subject: string): Promise<UserRecord | undefined> {
    const row = await this.db
      .selectFrom('user_identities')
      .innerJoin('users', 'users.id', 'user_identities.user_id')
      .selectAll('users')
      .where('user_identities.issuer', '=', issuer)
      .where('user_identities.subject', '=', subject)
      .executeTakeFirst();
    return row && toUser(row);
  }

  async linkIdentity(identity: ExternalIdentity, user: string | UserRecord, now: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const taken = await trx
        .selectFrom('user_identities')
        .select('user_id')
        .where('issuer', '=', identity.issuer)
        .where('subject', '=', identity.subject)
        .executeTakeFirst();
      if (taken !== undefined) return false;
      if (typeof user !== 'string') await insertUser(trx, user);
      try {
        await trx
          .insertInto('user_identities')
          .values({
            issuer: identity.issuer,
            subject: identity.subject,
            user_id: typeof user === 'string' ? user : user.id,
            created_at: now,
          })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) return false;
        throw err;
      }
      return true;
    });
  }

  async findByEmail(email: string): Promise<UserRecord | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('email_normalized', '=', normalizeEmail(email))
      .executeTakeFirst();
    return row && toUser(row);
  }

  async findById(id: string): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toUser(row);
  }

  async list(options: { readonly includeDemo?: boolean } = {}): Promise<UserRecord[]> {
    let query = this.db.selectFrom('users').selectAll().orderBy('created_at').orderBy('id');
    if (options.includeDemo !== true) query = query.where('is_demo', '=', 0);
    return (await query.execute()).map(toUser);
  }

  async disable(userId: string, now: string): Promise<{ revokedSessions: string[] } | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const user = await trx.selectFrom('users').select('disabled_at').where('id', '=', userId).executeTakeFirst();
      if (user === undefined) return undefined;
      if (user.disabled_at === null)
        await trx.updateTable('users').set({ disabled_at: now }).where('id', '=', userId).execute();
      return { revokedSessions: await revokeLiveFamilies(trx, userId, 'user_disabled', now) };
    });
  }

  // Sessions, threads, messages, runs and events follow by their foreign keys (migration 001); token usage has none.
  async delete(userId: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('token_usage').where('user_id', '=', userId).execute();
      const result = await trx.deleteFrom('users').where('id', '=', userId).executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }

  async deleteDemoUsers(before: string, limit: number): Promise<{ deleted: number; sessions: string[] }> {
    return this.db.transaction().execute(async (trx) => {
      const users = await trx
        .selectFrom('users')
        .select('id')
        .where('is_demo', '=', 1)
        .where('created_at', '<', before)
        .limit(limit)
        .execute();
      const ids = users.map((u) => u.id);
      if (ids.length === 0) return { deleted: 0, sessions: [] };
      const sessions = await trx
        .selectFrom('refresh_families')
        .select('id')
        .where('user_id', 'in', ids)
        .where('revoked_at', 'is', null)
        .execute();
      await trx.deleteFrom('token_usage').where('user_id', 'in', ids).execute();
      const result = await trx.deleteFrom('users').where('id', 'in', ids).executeTakeFirst();
      return { deleted: Number(result.numDeletedRows), sessions: sessions.map((s) => s.id) };
    });
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    const result = await this.db
      .updateTable('users')
      .set({ password_hash: passwordHash })
      .where('id', '=', userId)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async enable(userId: string): Promise<boolean> {
    const result = await this.db
      .updateTable('users')
      .set({ disabled_at: null })
      .where('id', '=', userId)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}

function toUser(row: UsersTable): UserRecord {
  return {
    id: row.id,
    email: row.email,
    passwordHash: row.password_hash,
    displayName: row.display_name,
    isDemo: row.is_demo === 1,
    createdAt: row.created_at,
    disabledAt: row.disabled_at,
  };
}

/** Inserts a user; a taken email (compared normalized, by a unique index) is `email_taken`. */
async function insertUser(db: Kysely<Database>, user: UserRecord): Promise<void> {
  try {
    await db
      .insertInto('users')
      .values({
        id: user.id,
        email: user.email,
        email_normalized: normalizeEmail(user.email),
        password_hash: user.passwordHash,
        display_name: user.displayName,
        is_demo: user.isDemo ? 1 : 0,
        created_at: user.createdAt,
        disabled_at: user.disabledAt,
      })
      .execute();
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError('email_taken', 'An account with this email already exists.', { cause: err });
    throw err;
  }
}
