/**
 * Pre-registers the benchmark's users straight through the storage ports, before the server starts: registering
 * thousands over HTTP would cost an argon2 hash each (about 30 ms of a core), minutes of set-up that has nothing to
 * do with what is measured. Every user gets a real user row (one shared argon2id hash), a real refresh family
 * (the session), and an access token signed with the server's own key, exactly as POST /auth/register makes them.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Config } from '../../src/config/index.js';
import type { Database } from '../../src/storage/index.js';
import { auth, storage } from './agentgate-code.js';

const BATCH = 50;

/** Creates `count` users with one session each and returns their access tokens, in creation order. */
export async function seedUsers(config: Config, count: number): Promise<string[]> {
  const { AccessTokens, hashSecret, loadSigningKeys, newOpaqueSecret, PasswordHasher } = auth;
  const { openPostgres, openSqlite, SqlTokenStore, SqlUserStore } = storage;
  const db: Kysely<Database> =
    config.database === undefined ? await openSqlite(config.dataDir) : await openPostgres(config.database);
  try {
    const users = new SqlUserStore(db);
    const tokens = new SqlTokenStore(db);
    const keys = await loadSigningKeys({ secretKey: config.jwt.secretKey, dataDir: config.dataDir });
    const accessTokens = new AccessTokens({
      keys,
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      ttlSeconds: config.jwt.accessTtlSeconds,
    });
    const passwordHash = await new PasswordHasher().hash('bench password, never used to log in');
    const now = new Date();
    const createdAt = now.toISOString();
    const expiresAt = new Date(now.getTime() + config.jwt.refreshTtlSeconds * 1000).toISOString();
    const out: string[] = [];
    for (let start = 0; start < count; start += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, count - start) }, async (_, k) => {
        const userId = randomUUID();
        const familyId = randomUUID();
        await users.create({
          id: userId,
          email: `bench-${start + k}-${userId}@example.com`,
          passwordHash,
          displayName: null,
          isDemo: false,
          createdAt,
          disabledAt: null,
        });
        await tokens.createFamily(
          { id: familyId, userId, createdAt },
          { tokenHash: hashSecret(newOpaqueSecret('rt_')), familyId, createdAt, expiresAt },
        );
        return (await accessTokens.sign(userId, familyId, Math.floor(now.getTime() / 1000))).token;
      });
      out.push(...(await Promise.all(batch)));
    }
    return out;
  } finally {
    await db.destroy();
  }
}
