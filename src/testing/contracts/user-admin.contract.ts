import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TokenStore, UserRecord, UserStore } from '../../auth/index.js';

export interface UserAdminStores {
  users: UserStore;
  tokens: TokenStore;
  close(): Promise<void>;
}

const iso = (offsetMs = 0): string => new Date(Date.now() + offsetMs).toISOString();

function user(createdAt: string, isDemo = false): UserRecord {
  return {
    id: randomUUID(),
    email: `admin-${randomUUID()}@example.com`,
    passwordHash: 'x',
    displayName: null,
    isDemo,
    createdAt,
    disabledAt: null,
  };
}

async function session(tokens: TokenStore, userId: string): Promise<string> {
  const familyId = randomUUID();
  await tokens.createFamily(
    { id: familyId, userId, createdAt: iso() },
    { tokenHash: randomUUID(), familyId, createdAt: iso(), expiresAt: iso(60_000) },
  );
  return familyId;
}

/** UserStore's administration methods (list, disable, enable: the CLI's `user` commands), on every SQL backend. */
export function userAdminContract(name: string, open: () => Promise<UserAdminStores>): void {
  describe(`user administration contract: ${name}`, () => {
    it('list: oldest first, demo users only when asked', async () => {
      const s = await open();
      try {
        const older = user(iso(-2_000));
        const demo = user(iso(-1_000), true);
        const newer = user(iso());
        for (const u of [newer, demo, older]) await s.users.create(u);
        expect((await s.users.list()).map((u) => u.id)).toEqual([older.id, newer.id]);
        expect((await s.users.list({ includeDemo: true })).map((u) => u.id)).toEqual([older.id, demo.id, newer.id]);
        expect((await s.users.list())[0]).toEqual(older);
      } finally {
        await s.close();
      }
    });

    it('disable: marks the user, revokes exactly its live sessions in one step, is idempotent; enable keeps them revoked', async () => {
      const s = await open();
      try {
        const u = user(iso());
        const other = user(iso());
        await s.users.create(u);
        await s.users.create(other);
        const [live1, live2, loggedOut, othersSession] = [
          await session(s.tokens, u.id),
          await session(s.tokens, u.id),
          await session(s.tokens, u.id),
          await session(s.tokens, other.id),
        ];
        await s.tokens.revokeFamily(loggedOut, 'logout', iso());

        const at = iso();
        const result = await s.users.disable(u.id, at);
        expect([...(result?.revokedSessions ?? [])].sort()).toEqual([live1, live2].sort());
        expect((await s.users.findById(u.id))?.disabledAt).toBe(at);
        expect(await s.tokens.isSessionActive(live1, u.id)).toBe(false);
        expect(await s.tokens.isSessionActive(othersSession, other.id)).toBe(true);

        expect(await s.users.disable(u.id, iso(1_000))).toEqual({ revokedSessions: [] });
        expect((await s.users.findById(u.id))?.disabledAt).toBe(at);
        expect(await s.users.disable(randomUUID(), iso())).toBeUndefined();

        expect(await s.users.enable(u.id)).toBe(true);
        expect((await s.users.findById(u.id))?.disabledAt).toBeNull();
        expect(await s.tokens.isSessionActive(live1, u.id)).toBe(false);
        const fresh = await session(s.tokens, u.id);
        expect(await s.tokens.isSessionActive(fresh, u.id)).toBe(true);
        expect(await s.users.enable(randomUUID())).toBe(false);
      } finally {
        await s.close();
      }
    });
  });
}
