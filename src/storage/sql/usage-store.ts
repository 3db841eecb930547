import type { Kysely } from 'kysely';
import { hourBucketOf, type TokenUsageStore } from '../../agents/index.js';
import type { Usage } from '../../protocol/index.js';
import type { Database } from '../schema.js';

/** Token usage in SQL (SQLite or PostgreSQL): an upsert that increments in place, so concurrent adds all count. */
export class SqlTokenUsageStore implements TokenUsageStore {
  constructor(private readonly db: Kysely<Database>) {}

  async add(userId: string, usage: Usage, at: Date): Promise<void> {
    await this.db
      .insertInto('token_usage')
      .values({
        user_id: userId,
        hour_start: hourBucketOf(at),
        input_tokens: usage.inputTokens,
        output_tokens: usage.outputTokens,
      })
      .onConflict((oc) =>
        oc.columns(['user_id', 'hour_start']).doUpdateSet((eb) => ({
          input_tokens: eb('token_usage.input_tokens', '+', eb.ref('excluded.input_tokens')),
          output_tokens: eb('token_usage.output_tokens', '+', eb.ref('excluded.output_tokens')),
        })),
      )
      .execute();
  }

  async totalSince(userId: string, since: Date): Promise<number> {
    const row = await this.db
      .selectFrom('token_usage')
      .select((eb) => eb.fn.sum<string | number | null>(eb('input_tokens', '+', eb.ref('output_tokens'))).as('total'))
      .where('user_id', '=', userId)
      .where('hour_start', '>=', hourBucketOf(since))
      .executeTakeFirst();
    // PostgreSQL sums bigints as numeric, which pg returns as a string.
    return Number(row?.total ?? 0);
  }
}
