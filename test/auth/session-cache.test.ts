import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionCache, type BusLink } from '../../src/auth/index.js';
import { MemoryBroadcast, openSqliteWatched } from '../../src/storage/index.js';
import { commitFromAnotherConnection } from '../../src/testing/foreign-commit.js';

/** A link the test takes down and brings back, as Redis's subscriber link does on an outage. */
class SwitchableLink implements BusLink {
  up = true;
  private readonly listeners = new Set<(up: boolean) => void>();
  set(up: boolean): void {
    this.up = up;
    for (const listener of this.listeners) listener(up);
  }
  onChange(listener: (up: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function setUp(options: { maxAgeMs?: number; maxEntries?: number } = {}) {
  const revocations = new MemoryBroadcast();
  const link = new SwitchableLink();
  let clock = 1_000_000;
  const cache = new SessionCache({
    revocations,
    link,
    maxAgeMs: options.maxAgeMs ?? 60_000,
    maxEntries: options.maxEntries ?? 100,
    now: () => clock,
  });
  let reads = 0;
  const store = new Map<string, boolean>([
    ['s1', true],
    ['s2', true],
    ['s3', true],
  ]);
  const check = (sessionId: string, userId = 'u1') =>
    cache.isActive(sessionId, userId, async () => {
      reads += 1;
      return store.get(sessionId) ?? false;
    });
  return {
    cache,
    revocations,
    link,
    store,
    check,
    reads: () => reads,
    advance: (ms: number) => (clock += ms),
  };
}

describe('SessionCache', () => {
  it('answers a session found active from memory, and reads again once its revocation is announced', async () => {
    const t = setUp();
    expect(await t.check('s1')).toBe(true);
    expect(await t.check('s1')).toBe(true);
    expect(t.reads()).toBe(1);
    t.store.set('s1', false);
    await t.revocations.publish('s1');
    expect(await t.check('s1')).toBe(false);
    expect(await t.check('s1')).toBe(false);
    expect(t.reads()).toBe(3);
  });

  it('forgets a session this process revoked at once, before its announcement comes back', async () => {
    const t = setUp();
    await t.check('s1');
    t.store.set('s1', false);
    t.cache.forget('s1');
    expect(await t.check('s1')).toBe(false);
    expect(t.reads()).toBe(2);
  });

  it('uses a read that raced a revocation once, but does not remember it', async () => {
    const t = setUp();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const racing = t.cache.isActive('s1', 'u1', async () => {
      await gate;
      return true;
    });
    // The revocation lands while the read is in flight: the read may have seen the session before it.
    await t.revocations.publish('s1');
    release();
    expect(await racing).toBe(true);
    t.store.set('s1', false);
    expect(await t.check('s1')).toBe(false);
    expect(t.reads()).toBe(1);
  });

  it('reads every time while the link is down, and forgets everything when it changes', async () => {
    const t = setUp();
    await t.check('s1');
    t.link.set(false);
    await t.check('s1');
    await t.check('s1');
    expect(t.reads()).toBe(3);
    t.store.set('s1', false);
    t.link.set(true);
    expect(await t.check('s1')).toBe(false);
    expect(t.reads()).toBe(4);
  });

  it('does not answer for another user, nor past its maximum age, nor beyond its size', async () => {
    const t = setUp({ maxAgeMs: 1_000, maxEntries: 2 });
    await t.check('s1');
    await t.check('s1', 'u2');
    expect(t.reads()).toBe(2);
    t.advance(1_000);
    await t.check('s1');
    expect(t.reads()).toBe(3);
    await t.check('s2');
    await t.check('s3');
    await t.check('s1');
    expect(t.reads()).toBe(6);
    await t.check('s3');
    expect(t.reads()).toBe(6);
  });

  it('does not remember a session found inactive', async () => {
    const t = setUp();
    t.store.set('s1', false);
    expect(await t.check('s1')).toBe(false);
    t.store.set('s1', true);
    expect(await t.check('s1')).toBe(true);
    expect(t.reads()).toBe(2);
  });

  it('stops listening when closed: it forgets everything, and a later announcement no longer evicts', async () => {
    const t = setUp();
    await t.check('s1');
    t.cache.close();
    await t.check('s1');
    expect(t.reads()).toBe(2);
    // Remembered again after close; an announcement it no longer hears leaves it remembered.
    await t.revocations.publish('s1');
    await t.check('s1');
    expect(t.reads()).toBe(2);
  });
});

describe('SQLite: commits by another process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-foreign-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are told before anything remembered is used, and this process’s own commits are not', async () => {
    const { db, foreignCommits } = await openSqliteWatched(dir);
    const changes: boolean[] = [];
    foreignCommits.onChange((up) => changes.push(up));
    try {
      await db
        .insertInto('cluster_settings')
        .values({ name: 'probe', value: 'own', updated_at: new Date().toISOString() })
        .execute();
      expect(foreignCommits.up).toBe(true);
      expect(changes).toEqual([]);

      // Another process (the CLI) writes to the same file.
      commitFromAnotherConnection(dir);
      expect(foreignCommits.up).toBe(true);
      expect(changes).toEqual([true]);
      expect(foreignCommits.up).toBe(true);
      expect(changes).toEqual([true]);
    } finally {
      await db.destroy();
    }
  });
});
