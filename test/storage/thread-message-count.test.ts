import type { Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { sqliteForThisFile } from '../../src/testing/sqlite-for-this-file.js';
import * as threadMessageCount from '../../src/storage/migrations/005-thread-message-count.js';
import * as messageCountTrigger from '../../src/storage/migrations/010-message-count-trigger.js';
import { SqlConversationStore } from '../../src/storage/index.js';
import { storedUser } from '../runs/run-manager-deps.js';

const db = await sqliteForThisFile('migration');

describe('migration 005: threads count their messages', () => {
  it('counts the messages a thread already held when it is applied to an existing database', async () => {
    const store = new SqlConversationStore(db);
    await storedUser(db, { id: 'u1' });
    const at = new Date().toISOString();
    for (const [threadId, messages] of [
      ['busy', 3],
      ['empty', 0],
    ] as const) {
      await store.createThread({ id: threadId, userId: 'u1', title: threadId, createdAt: at, updatedAt: at });
      for (let i = 0; i < messages; i++) {
        const role = i % 2 === 0 ? 'user' : 'assistant';
        await store.addMessage({
          id: `${threadId}-${i}`,
          threadId,
          userId: 'u1',
          role,
          text: 't',
          runId: null,
          createdAt: at,
        });
      }
    }
    // As a database from before 005 would be: no counter (nor 010's trigger that keeps it), then the migration adds
    // and fills it.
    const older = db as unknown as Kysely<unknown>;
    await messageCountTrigger.down(older, 'sqlite');
    await threadMessageCount.down(older);
    await threadMessageCount.up(older);
    await messageCountTrigger.up(older, 'sqlite');
    expect((await store.getThread('u1', 'busy'))?.messageCount).toBe(3);
    expect((await store.getThread('u1', 'empty'))?.messageCount).toBe(0);
    // And 010's trigger counts from there.
    await store.addMessage({
      id: 'later',
      threadId: 'empty',
      userId: 'u1',
      role: 'user',
      text: 't',
      runId: null,
      createdAt: at,
    });
    expect((await store.getThread('u1', 'empty'))?.messageCount).toBe(1);
  });
});
