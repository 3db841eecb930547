import type { Kysely } from 'kysely';
import type { SigningKeyRegistry } from '../../auth/index.js';
import type { Database } from '../schema.js';

/** The name of the setting in `cluster_settings`. */
export const SIGNING_KEY_SETTING = 'signing_key_fingerprint';

/** The signing key's fingerprint in `cluster_settings`, on SQLite or PostgreSQL. */
export class SqlSigningKeyRegistry implements SigningKeyRegistry {
  constructor(private readonly db: Kysely<Database>) {}

  async recordOrGet(fingerprint: string, now: string): Promise<string> {
    await this.db
      .insertInto('cluster_settings')
      .values({ name: SIGNING_KEY_SETTING, value: fingerprint, updated_at: now })
      .onConflict((c) => c.column('name').doNothing())
      .execute();
    const row = await this.db
      .selectFrom('cluster_settings')
      .select('value')
      .where('name', '=', SIGNING_KEY_SETTING)
      .executeTakeFirstOrThrow();
    return row.value;
  }

  async replace(fingerprint: string, now: string): Promise<void> {
    await this.db
      .insertInto('cluster_settings')
      .values({ name: SIGNING_KEY_SETTING, value: fingerprint, updated_at: now })
      .onConflict((c) => c.column('name').doUpdateSet({ value: fingerprint, updated_at: now }))
      .execute();
  }
}
