import type { Kysely } from 'kysely';
import type { NewRefreshToken, RotationResult, SessionRecord, TokenStore } from '../../auth/index.js';
import type { Database } from '../schema.js';

export class SqlTokenStore implements TokenStore {
  constructor(private readonly db: Kysely<Database>) {}

  async createFamily(family: { id: string; userId: string; createdAt: string }, first: NewRefreshToken): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('refresh_families')
        .values({
          id: family.id,
          user_id: family.userId,
          created_at: family.createdAt,
          revoked_at: null,
          revoked_reason: null,
        })
        .execute();
      await trx
        .insertInto('refresh_tokens')
        .values({
          token_hash: first.tokenHash,
          family_id: family.id,
          created_at: first.createdAt,
          expires_at: first.expiresAt,
          spent_at: null,
        })
        .execute();
    });
  }

  async rotate(tokenHash: string, next: Omit<NewRefreshToken, 'familyId'>, now: string): Promise<RotationResult> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('refresh_tokens as t')
        .innerJoin('refresh_families as f', 'f.id', 't.family_id')
        .select(['t.family_id', 't.expires_at', 't.spent_at', 'f.user_id', 'f.revoked_at'])
        .where('t.token_hash', '=', tokenHash)
        .executeTakeFirst();
      if (row === undefined || row.revoked_at !== null) return { kind: 'invalid' } as const;
      const reused = (spentAt: string): RotationResult => ({
        kind: 'reused',
        userId: row.user_id,
        familyId: row.family_id,
        spentAt,
      });
      if (row.spent_at !== null) {
        await revoke(trx, row.family_id, 'refresh_token_reused', now);
        return reused(row.spent_at);
      }
      if (row.expires_at <= now) return { kind: 'invalid' } as const;
      // The conditional update is the arbiter between concurrent rotations (PostgreSQL runs them in parallel).
      const spent = await trx
        .updateTable('refresh_tokens')
        .set({ spent_at: now })
        .where('token_hash', '=', tokenHash)
        .where('spent_at', 'is', null)
        .executeTakeFirst();
      if (spent.numUpdatedRows === 0n) {
        await revoke(trx, row.family_id, 'refresh_token_reused', now);
        return reused(now);
      }
      await trx
        .insertInto('refresh_tokens')
        .values({
          token_hash: next.tokenHash,
          family_id: row.family_id,
          created_at: next.createdAt,
          expires_at: next.expiresAt,
          spent_at: null,
        })
        .execute();
      return { kind: 'rotated', userId: row.user_id, familyId: row.family_id } as const;
    });
  }

  async findFamilyByToken(
    tokenHash: string,
  ): Promise<{ familyId: string; userId: string; createdAt: string } | undefined> {
    const row = await this.db
      .selectFrom('refresh_tokens as t')
      .innerJoin('refresh_families as f', 'f.id', 't.family_id')
      .select(['f.id', 'f.user_id', 'f.created_at'])
      .where('t.token_hash', '=', tokenHash)
      .where('f.revoked_at', 'is', null)
      .executeTakeFirst();
    return row && { familyId: row.id, userId: row.user_id, createdAt: row.created_at };
  }

  async revokeFamily(familyId: string, reason: string, now: string): Promise<boolean> {
    return revoke(this.db, familyId, reason, now);
  }

  async isSessionActive(familyId: string, userId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('refresh_families as f')
      .innerJoin('users as u', 'u.id', 'f.user_id')
      .select('f.id')
      .where('f.id', '=', familyId)
      .where('f.user_id', '=', userId)
      .where('f.revoked_at', 'is', null)
      .where('u.disabled_at', 'is', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  async listSessions(userId: string, now: string): Promise<SessionRecord[]> {
    const rows = await this.db
      .selectFrom('refresh_families as f')
      .innerJoin('refresh_tokens as t', 't.family_id', 'f.id')
      .select(['f.id', 'f.created_at', (eb) => eb.fn.max('t.created_at').as('last_used_at')])
      .where('f.user_id', '=', userId)
      .where('f.revoked_at', 'is', null)
      .where('t.spent_at', 'is', null)
      .where('t.expires_at', '>', now)
      .groupBy(['f.id', 'f.created_at'])
      .orderBy('f.created_at')
      .orderBy('f.id')
      .execute();
    return rows.map((r) => ({ id: r.id, createdAt: r.created_at, lastUsedAt: r.last_used_at }));
  }

  async revokeUserFamilies(userId: string, reason: string, now: string): Promise<string[]> {
    return this.db.transaction().execute((trx) => revokeLiveFamilies(trx, userId, reason, now));
  }

  async deleteExpired(now: string): Promise<number> {
    const res = await this.db.deleteFrom('refresh_tokens').where('expires_at', '<', now).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  async stats(now: string): Promise<{
    activeSessions: number;
    activeSessionsByUser: Record<string, number>;
    oldestSessionCreatedAt: string | null;
  }> {
    // A session is live while it is not revoked and holds an unspent, unexpired refresh token.
    const rows = await this.db
      .selectFrom('refresh_families as f')
      .innerJoin('refresh_tokens as t', 't.family_id', 'f.id')
      .select(['f.user_id', 'f.created_at'])
      .where('f.revoked_at', 'is', null)
      .where('t.spent_at', 'is', null)
      .where('t.expires_at', '>', now)
      .execute();
    const byUser: Record<string, number> = {};
    let oldest: string | null = null;
    for (const r of rows) {
      byUser[r.user_id] = (byUser[r.user_id] ?? 0) + 1;
      if (oldest === null || r.created_at < oldest) oldest = r.created_at;
    }
    return { activeSessions: rows.length, activeSessionsByUser: byUser, oldestSessionCreatedAt: oldest };
  }
}

/** Revokes every session of the user not yet revoked (call it inside a transaction); returns their ids. */
export async function revokeLiveFamilies(
  db: Kysely<Database>,
  userId: string,
  reason: string,
  now: string,
): Promise<string[]> {
  const live = await db
    .selectFrom('refresh_families')
    .select('id')
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
  const ids = live.map((f) => f.id);
  if (ids.length > 0) {
    await db
      .updateTable('refresh_families')
      .set({ revoked_at: now, revoked_reason: reason })
      .where('id', 'in', ids)
      .where('revoked_at', 'is', null)
      .execute();
  }
  return ids;
}

async function revoke(db: Kysely<Database>, familyId: string, reason: string, now: string): Promise<boolean> {
  const res = await db
    .updateTable('refresh_families')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('id', '=', familyId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return res.numUpdatedRows > 0n;
}
