import { describe, expect, it } from 'vitest';
import { sqliteForThisFile } from '../../src/testing/sqlite-for-this-file.js';
import { IDEMPOTENCY_WINDOW_MS, RunManager } from '../../src/runs/index.js';
import { MemoryMessageIdStore } from '../../src/storage/index.js';
import { runManagerDeps, storedUser, TEST_RUN_LIMITS } from './run-manager-deps.js';

const db = await sqliteForThisFile('idempotency');

describe('message ids: the idempotency window on one instance', () => {
  it('answers a re-sent id with its first ack within the window and accepts it anew after, also among many ids accepted at different times', async () => {
    let nowMs = Date.parse('2026-01-01T00:00:00Z');
    const runs = new RunManager(
      runManagerDeps(db, {
        messageIds: new MemoryMessageIdStore(() => nowMs),
        limits: { ...TEST_RUN_LIMITS, maxPerUser: 100 },
        now: () => nowMs,
      }),
    );
    const userId = await storedUser(db, { createdAt: new Date(nowMs).toISOString() });
    const send = (clientId: string) => runs.submit(userId, { text: 'hello', clientId, connectionId: null });

    // Ids accepted a minute apart; the first one again, once its window has passed but not the others'.
    const first = await send('m-0');
    const acks = [first];
    for (let i = 1; i < 5; i++) {
      nowMs += 60_000;
      acks.push(await send(`m-${i}`));
    }
    expect(new Set(acks.map((a) => a.runId)).size).toBe(5);
    expect(await send('m-0')).toEqual(first);

    nowMs = Date.parse('2026-01-01T00:00:00Z') + IDEMPOTENCY_WINDOW_MS + 1;
    const again = await send('m-0');
    expect(again.runId).not.toBe(first.runId);
    // The later ids are still inside their windows: the same acks, no new runs.
    for (let i = 1; i < 5; i++) expect(await send(`m-${i}`)).toEqual(acks[i]);
    // And the renewed id now keeps its new ack.
    nowMs += 60_000;
    expect(await send('m-0')).toEqual(again);
    await runs.shutdown(5_000);
  });
});
