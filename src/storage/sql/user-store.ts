import type { Kysely } from 'kysely';
import { normalizeEmail, type UserRecord, type UserStore } from '../../auth/index.js';
import { AppError } from '../../errors/index.js';
import type { Database, UsersTable } from '../schema.js';
import { isUniqueViolation } from './unique-violation.js';

export class SqlUserStore implements UserStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(user: UserRecord): Promise<void> {
    try {
      await this.db
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
      if (isUniqueViolation(err)) throw new AppError('email_taken', 'An account with this email already exists.', { cause: err });
      throw err;
    }
  }

  async findByEmail(email: string): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('email_normalized', '=', normalizeEmail(email)).executeTakeFirst();
    return row && toUser(row);
  }

  async findById(id: string): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toUser(row);
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
