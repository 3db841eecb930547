import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TokenStore, UserRecord, UserStore } from '../../auth/index.js';
import type { RunEvent } from '../../protocol/index.js';
import {
  SeqTakenError,
  type ConversationStore,
  type EventLog,
  type MessageRecord,
  type RunRecord,
  type RunStore,
} from '../../runs/index.js';

export interface DurableStores {
  users: UserStore;
  tokens: TokenStore;
  conversations: ConversationStore;
  runs: RunStore;
  events: EventLog;
  close(): Promise<void>;
}

const iso = (offsetMs = 0): string => new Date(Date.now() + offsetMs).toISOString();

function user(email = `u-${randomUUID()}@example.com`): UserRecord {
  return {
    id: randomUUID(),
    email,
    passwordHash: 'x',
    displayName: null,
    isDemo: false,
    createdAt: iso(),
    disabledAt: null,
  };
}

/** A user with one thread and one `running` run on `instanceId`. */
/** A run in progress, as admission stores it. */
function runningRun(id: string, threadId: string, userId: string, instanceId: string | null): RunRecord {
  const at = iso();
  return {
    id,
    threadId,
    userId,
    status: 'running',
    errorCode: null,
    lastSeq: 0,
    createdAt: at,
    updatedAt: at,
    instanceId,
  };
}

async function aRunningRun(
  s: DurableStores,
  instanceId: string | null,
): Promise<{ a: UserRecord; threadId: string; runId: string }> {
  const a = user();
  await s.users.create(a);
  const threadId = randomUUID();
  const runId = randomUUID();
  await s.conversations.createThread({ id: threadId, userId: a.id, title: 't', createdAt: iso(), updatedAt: iso() });
  await s.runs.createRun(runningRun(runId, threadId, a.id, instanceId));
  return { a, threadId, runId };
}

/** The durable-store contracts (users, refresh families, conversations, runs, event log), run against every backend. */
export function durableStoresContract(name: string, open: () => Promise<DurableStores>): void {
  describe(`durable stores contract: ${name}`, () => {
    it('UserStore: emails are unique case-insensitively and found in any case', async () => {
      const s = await open();
      const u = user('Mixed.Case@Example.com');
      await s.users.create(u);
      await expect(s.users.create(user('mixed.case@example.COM'))).rejects.toMatchObject({ code: 'email_taken' });
      expect((await s.users.findByEmail('MIXED.case@example.com'))?.id).toBe(u.id);
      expect((await s.users.findById(u.id))?.email).toBe('Mixed.Case@Example.com');
      expect(await s.users.findById('nope')).toBeUndefined();
      await s.close();
    });

    it('TokenStore: rotation spends the token once; replay revokes the family', async () => {
      const s = await open();
      const u = user();
      await s.users.create(u);
      await s.tokens.createFamily(
        { id: 'f1', userId: u.id, createdAt: iso() },
        { tokenHash: 't1', familyId: 'f1', createdAt: iso(), expiresAt: iso(60_000) },
      );
      expect(await s.tokens.isSessionActive('f1', u.id)).toBe(true);
      expect(await s.tokens.isSessionActive('f1', 'someone-else')).toBe(false);
      expect(await s.tokens.rotate('t1', { tokenHash: 't2', createdAt: iso(), expiresAt: iso(60_000) }, iso())).toEqual(
        { kind: 'rotated', userId: u.id, familyId: 'f1' },
      );
      expect(await s.tokens.rotate('t1', { tokenHash: 't3', createdAt: iso(), expiresAt: iso(60_000) }, iso())).toEqual(
        { kind: 'reused', userId: u.id, familyId: 'f1', spentAt: expect.any(String) },
      );
      expect(await s.tokens.isSessionActive('f1', u.id)).toBe(false);
      expect(await s.tokens.rotate('t2', { tokenHash: 't4', createdAt: iso(), expiresAt: iso(60_000) }, iso())).toEqual(
        { kind: 'invalid' },
      );
      expect(
        await s.tokens.rotate('unknown', { tokenHash: 't5', createdAt: iso(), expiresAt: iso(60_000) }, iso()),
      ).toEqual({ kind: 'invalid' });
      await s.close();
    });

    it("TokenStore: a user's live sessions are listed and ended by owner only; UserStore sets a password hash", async () => {
      const s = await open();
      const [a, b] = [user(), user()];
      await s.users.create(a);
      await s.users.create(b);
      const family = (id: string, owner: UserRecord, tokenHash: string) =>
        s.tokens.createFamily(
          { id, userId: owner.id, createdAt: iso() },
          { tokenHash, familyId: id, createdAt: iso(), expiresAt: iso(60_000) },
        );
      const [fa1, fa2, fb] = [randomUUID(), randomUUID(), randomUUID()];
      await family(fa1, a, `h-${fa1}`);
      await family(fa2, a, `h-${fa2}`);
      await family(fb, b, `h-${fb}`);
      const rotatedAt = iso(1_000);
      await s.tokens.rotate(
        `h-${fa2}`,
        { tokenHash: `h2-${fa2}`, createdAt: rotatedAt, expiresAt: iso(60_000) },
        iso(),
      );
      const listed = await s.tokens.listSessions(a.id, iso());
      expect(listed.map((x) => x.id).sort()).toEqual([fa1, fa2].sort());
      expect(listed.find((x) => x.id === fa2)?.lastUsedAt).toBe(rotatedAt);
      expect((await s.tokens.revokeUserFamilies(a.id, 'logout_everywhere', iso())).sort()).toEqual([fa1, fa2].sort());
      expect(await s.tokens.listSessions(a.id, iso())).toEqual([]);
      expect(await s.tokens.revokeUserFamilies(a.id, 'logout_everywhere', iso())).toEqual([]);
      expect((await s.tokens.listSessions(b.id, iso())).map((x) => x.id)).toEqual([fb]);
      expect(await s.users.setPasswordHash(a.id, 'new-hash')).toBe(true);
      expect((await s.users.findById(a.id))?.passwordHash).toBe('new-hash');
      expect((await s.users.findById(b.id))?.passwordHash).toBe('x');
      expect(await s.users.setPasswordHash('nobody', 'h')).toBe(false);
      // Deleting a user takes their sessions along, and nobody else's.
      expect(await s.users.delete(b.id)).toBe(true);
      expect(await s.users.findById(b.id)).toBeUndefined();
      expect(await s.tokens.listSessions(b.id, iso())).toEqual([]);
      expect(await s.tokens.findFamilyByToken(`h-${fb}`)).toBeUndefined();
      expect(await s.users.findById(a.id)).toBeDefined();
      expect(await s.users.delete(b.id)).toBe(false);
      await s.close();
    });

    it('TokenStore: of concurrent rotations with one token exactly one wins', async () => {
      const s = await open();
      const u = user();
      await s.users.create(u);
      await s.tokens.createFamily(
        { id: 'f2', userId: u.id, createdAt: iso() },
        { tokenHash: 'c0', familyId: 'f2', createdAt: iso(), expiresAt: iso(60_000) },
      );
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          s.tokens.rotate('c0', { tokenHash: `c${i + 1}`, createdAt: iso(), expiresAt: iso(60_000) }, iso()),
        ),
      );
      expect(results.filter((r) => r.kind === 'rotated')).toHaveLength(1);
      await s.close();
    });

    it('TokenStore: expired tokens do not rotate and are cleaned up; logout revokes by token', async () => {
      const s = await open();
      const u = user();
      await s.users.create(u);
      await s.tokens.createFamily(
        { id: 'f3', userId: u.id, createdAt: iso() },
        { tokenHash: 'e1', familyId: 'f3', createdAt: iso(), expiresAt: iso(-1) },
      );
      expect(await s.tokens.rotate('e1', { tokenHash: 'e2', createdAt: iso(), expiresAt: iso(60_000) }, iso())).toEqual(
        { kind: 'invalid' },
      );
      expect(await s.tokens.findFamilyByToken('e1')).toEqual({
        familyId: 'f3',
        userId: u.id,
        createdAt: expect.any(String),
      });
      expect(await s.tokens.deleteExpired(iso())).toBeGreaterThanOrEqual(1);
      expect(await s.tokens.rotate('e1', { tokenHash: 'e3', createdAt: iso(), expiresAt: iso(60_000) }, iso())).toEqual(
        { kind: 'invalid' },
      );
      await s.tokens.createFamily(
        { id: 'f4', userId: u.id, createdAt: iso() },
        { tokenHash: 'e4', familyId: 'f4', createdAt: iso(), expiresAt: iso(60_000) },
      );
      expect(await s.tokens.revokeFamily('f4', 'logout', iso())).toBe(true);
      expect(await s.tokens.revokeFamily('f4', 'logout', iso())).toBe(false);
      expect(await s.tokens.findFamilyByToken('e4')).toBeUndefined();
      await s.close();
    });

    it('ConversationStore and RunStore: reads are scoped by owner; messages keep insertion order', async () => {
      const s = await open();
      const a = user();
      const b = user();
      await s.users.create(a);
      await s.users.create(b);
      const t = { id: randomUUID(), userId: a.id, title: 'hello', createdAt: iso(), updatedAt: iso() };
      await s.conversations.createThread(t);
      expect(await s.conversations.getThread(b.id, t.id)).toBeUndefined();
      expect(await s.conversations.listThreads(b.id, { limit: 10 })).toEqual({ items: [], next: undefined });
      expect(await s.conversations.listThreads(a.id, { limit: 10 })).toEqual({
        items: [{ ...t, messageCount: 0, agentState: null }],
        next: undefined,
      });
      const runId = randomUUID();
      await s.runs.createRun(runningRun(runId, t.id, a.id, 'instance-1'));
      const same = iso();
      for (const [i, role] of (['user', 'assistant', 'user'] as const).entries()) {
        await s.conversations.addMessage({
          id: `m${i}-${runId}`,
          threadId: t.id,
          userId: a.id,
          role,
          text: `m${i}`,
          runId,
          createdAt: same,
        });
      }
      const all = await s.conversations.listMessages(a.id, t.id, { limit: 10 });
      expect(all.items.map((m) => m.text)).toEqual(['m0', 'm1', 'm2']);
      expect(all.next).toBeUndefined();
      expect(await s.conversations.listMessages(b.id, t.id, { limit: 10 })).toEqual({ items: [], next: undefined });
      expect(await s.conversations.getThread(a.id, t.id)).toMatchObject({ messageCount: 3, updatedAt: same });
      expect(await s.runs.getRun(b.id, runId)).toBeUndefined();
      expect(await s.runs.isRunIdTaken(runId)).toBe(true);
      expect(await s.runs.isRunIdTaken('no-such-run')).toBe(false);
      expect((await s.runs.listUnfinished()).map((r) => r.id)).toContain(runId);
      expect(await s.runs.listActive(a.id)).toEqual([
        expect.objectContaining({ id: runId, threadId: t.id, status: 'running', instanceId: 'instance-1' }),
      ]);
      expect(await s.runs.listActive(b.id)).toEqual([]);
      await s.runs.finishRun(runId, 'completed', null, iso());
      expect(await s.runs.getRun(a.id, runId)).toMatchObject({ status: 'completed' });
      expect((await s.runs.listUnfinished()).map((r) => r.id)).not.toContain(runId);
      expect(await s.runs.listActive(a.id)).toEqual([]);
      // A decided status is final: a late finish (e.g. an owner that lost its run to recovery) changes nothing.
      await s.runs.finishRun(runId, 'interrupted', 'interrupted', iso());
      expect(await s.runs.getRun(a.id, runId)).toMatchObject({ status: 'completed', errorCode: null });
      await s.close();
    });

    it('ConversationStore: threads page newest activity first, ties by id, without gaps or repeats; counted per owner', async () => {
      const s = await open();
      const a = user();
      await s.users.create(a);
      // Seven threads, three of them sharing one updatedAt: a keyset on the time alone would skip or repeat them.
      const times = [iso(-7000), iso(-6000), iso(-5000), iso(-5000), iso(-5000), iso(-2000), iso(-1000)];
      const threads = times.map((at, i) => ({
        id: `t${i}-${randomUUID()}`,
        userId: a.id,
        title: `${i}`,
        createdAt: at,
        updatedAt: at,
      }));
      for (const t of threads) await s.conversations.createThread(t);
      expect(await s.conversations.countThreads(a.id)).toBe(7);
      expect(await s.conversations.countThreads(user().id)).toBe(0);
      const expected = [...threads]
        .sort((x, y) => (x.updatedAt === y.updatedAt ? (x.id < y.id ? -1 : 1) : x.updatedAt < y.updatedAt ? 1 : -1))
        .map((t) => t.id);
      const seen: string[] = [];
      let before: Parameters<ConversationStore['listThreads']>[1]['before'];
      for (let pages = 1; ; pages++) {
        const page = await s.conversations.listThreads(a.id, { limit: 2, before });
        seen.push(...page.items.map((t) => t.id));
        if (page.next === undefined) {
          expect(pages).toBe(4);
          break;
        }
        before = page.next;
      }
      expect(seen).toEqual(expected);
      await s.close();
    });

    it('ConversationStore: messages page from the most recent back, each page in insertion order', async () => {
      const s = await open();
      const { a, threadId } = await aRunningRun(s, null);
      const at = iso();
      for (let i = 0; i < 5; i++) {
        const role = i % 2 === 0 ? 'user' : 'assistant';
        await s.conversations.addMessage({
          id: `m${i}-${threadId}`,
          threadId,
          userId: a.id,
          role,
          text: `m${i}`,
          runId: null,
          createdAt: at,
        });
      }
      const newest = await s.conversations.listMessages(a.id, threadId, { limit: 2 });
      expect(newest.items.map((m) => m.text)).toEqual(['m3', 'm4']);
      const middle = await s.conversations.listMessages(a.id, threadId, { limit: 2, before: newest.next });
      expect(middle.items.map((m) => m.text)).toEqual(['m1', 'm2']);
      const oldest = await s.conversations.listMessages(a.id, threadId, { limit: 2, before: middle.next });
      expect(oldest.items.map((m) => m.text)).toEqual(['m0']);
      expect(oldest.next).toBeUndefined();
      expect((await s.conversations.listMessages(a.id, threadId, { limit: 5 })).next).toBeUndefined();
      expect(await s.conversations.getThread(a.id, threadId)).toMatchObject({ messageCount: 5 });
      await s.close();
    });

    it('ConversationStore: rename and delete reach only the owner; a delete takes the messages, runs and events along', async () => {
      const s = await open();
      const { a, threadId, runId } = await aRunningRun(s, null);
      const b = user();
      await s.users.create(b);
      await s.conversations.addMessage({
        id: `m-${runId}`,
        threadId,
        userId: a.id,
        role: 'user',
        text: 'x',
        runId,
        createdAt: iso(),
      });
      await s.events.append([{ runId, threadId, seq: 1, ts: iso(), type: 'agent_started' }]);
      expect(await s.conversations.renameThread(b.id, threadId, 'taken')).toBe(false);
      expect(await s.conversations.renameThread(a.id, threadId, 'renamed')).toBe(true);
      expect(await s.conversations.getThread(a.id, threadId)).toMatchObject({ title: 'renamed' });
      expect(await s.conversations.deleteThread(b.id, threadId)).toBe(false);
      expect(await s.conversations.getThread(a.id, threadId)).toBeDefined();
      expect(await s.conversations.deleteThread(a.id, threadId)).toBe(true);
      expect(await s.conversations.getThread(a.id, threadId)).toBeUndefined();
      expect((await s.conversations.listMessages(a.id, threadId, { limit: 10 })).items).toEqual([]);
      expect(await s.runs.getRun(a.id, runId)).toBeUndefined();
      expect(await s.events.list(runId, 0)).toEqual([]);
      expect(await s.conversations.deleteThread(a.id, threadId)).toBe(false);
      await s.close();
    });

    it('ConversationStore and RunStore: calls made together each get their own answer, and a bad one fails alone', async () => {
      const s = await open();
      const one = await aRunningRun(s, 'instance-1');
      const two = await aRunningRun(s, 'instance-2');
      const run = (id: string, owner: { a: UserRecord; threadId: string }): RunRecord =>
        runningRun(id, owner.threadId, owner.a.id, 'instance-1');
      const message = (id: string, owner: { a: UserRecord; threadId: string }): MessageRecord => ({
        id,
        threadId: owner.threadId,
        userId: owner.a.id,
        role: 'user',
        text: id,
        runId: null,
        createdAt: iso(),
      });
      const fresh = [randomUUID(), randomUUID(), randomUUID()];
      const results = await Promise.allSettled([
        s.runs.createRun(run(fresh[0]!, one)),
        s.runs.createRun(run(one.runId, two)), // taken
        s.runs.createRun(run(fresh[1]!, two)),
        s.runs.createRun(run(fresh[2]!, two)),
        s.conversations.addMessage(message('m1', one)),
        s.conversations.addMessage(message('m2', { a: two.a, threadId: 'no-such-thread' })), // no thread
        s.conversations.addMessage(message('m3', two)),
      ]);
      expect(results.map((r) => r.status)).toEqual([
        'fulfilled',
        'rejected',
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'rejected',
        'fulfilled',
      ]);
      const [threadOfOne, notOfTwo, activeOne, activeTwo] = await Promise.all([
        s.conversations.getThread(one.a.id, one.threadId),
        s.conversations.getThread(two.a.id, one.threadId),
        s.runs.listActive(one.a.id),
        s.runs.listActive(two.a.id),
      ]);
      expect(threadOfOne).toMatchObject({ id: one.threadId, messageCount: 1 });
      expect(notOfTwo).toBeUndefined();
      expect(activeOne.map((r) => r.id).sort()).toEqual([one.runId, fresh[0]].sort());
      expect(activeTwo.map((r) => r.id).sort()).toEqual([two.runId, fresh[1], fresh[2]].sort());
      expect((await s.conversations.getThread(two.a.id, two.threadId))?.messageCount).toBe(1);

      const thread = (id: string, owner: UserRecord) => ({
        id,
        userId: owner.id,
        title: id,
        createdAt: iso(),
        updatedAt: iso(),
      });
      const [made, taken] = await Promise.allSettled([
        s.conversations.createThread(thread(randomUUID(), one.a)),
        s.conversations.createThread(thread(two.threadId, one.a)), // taken
      ]);
      expect([made.status, taken.status]).toEqual(['fulfilled', 'rejected']);
      expect(
        await Promise.all([s.conversations.countThreads(one.a.id), s.conversations.countThreads(two.a.id)]),
      ).toEqual([2, 1]);

      await s.runs.finishRun(fresh[2]!, 'error', 'agent_failed', iso());
      await Promise.all([
        s.runs.finishRun(fresh[0]!, 'completed', null, iso()),
        s.runs.finishRun(fresh[1]!, 'cancelled', null, iso()),
        s.runs.finishRun(fresh[2]!, 'completed', null, iso()), // already finished: left as it is
      ]);
      const statuses = await Promise.all([
        s.runs.getRun(one.a.id, fresh[0]!),
        s.runs.getRun(two.a.id, fresh[1]!),
        s.runs.getRun(two.a.id, fresh[2]!),
      ]);
      expect(statuses.map((r) => [r?.status, r?.errorCode])).toEqual([
        ['completed', null],
        ['cancelled', null],
        ['error', 'agent_failed'],
      ]);
      await s.close();
    });

    it('EventLog: of concurrent appends of one seq exactly one is stored', async () => {
      const s = await open();
      const { threadId, runId } = await aRunningRun(s, null);
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i): Promise<void> =>
          s.events.append([{ type: 'agent_message_delta', text: `writer ${i}`, runId, threadId, seq: 1, ts: iso() }]),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(SeqTakenError);
      expect(await s.events.list(runId, 0)).toHaveLength(1);
      await s.close();
    });

    it('EventLog: ordered, after-filtered, and a duplicate seq is refused', async () => {
      const s = await open();
      const { a, threadId, runId } = await aRunningRun(s, 'instance-1');
      const ev = (seq: number): RunEvent => ({
        type: 'agent_message_delta',
        text: `d${seq}`,
        runId,
        threadId,
        seq,
        ts: iso(),
      });
      await s.events.append([ev(1), ev(2)]);
      for (let seq = 3; seq <= 5; seq++) await s.events.append([ev(seq)]);
      await expect(s.events.append([ev(3)])).rejects.toBeInstanceOf(SeqTakenError);
      // A batch is all or nothing: 6 must not be stored when 5 in the same write is taken.
      await expect(s.events.append([ev(5), ev(6)])).rejects.toBeInstanceOf(SeqTakenError);
      await s.events.append([]);
      expect((await s.events.list(runId, 0)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(await s.events.list(runId, 3)).toEqual([ev(4), ev(5)].map((e) => ({ ...e, ts: expect.any(String) })));
      expect((await s.runs.getRun(a.id, runId))?.lastSeq).toBe(5);
      await s.close();
    });

    it('EventLog: a burst is read back from any seq inside it, beside the bursts of other runs stored with it', async () => {
      const s = await open();
      const one = await aRunningRun(s, 'instance-1');
      const two = await aRunningRun(s, 'instance-1');
      const ev = (run: { runId: string; threadId: string }, seq: number): RunEvent => ({
        type: 'agent_message_delta',
        // Text with line breaks and a separator-like tail: the burst's lines must still split where events do.
        text: `d${seq}\nsecond line\r\n{"seq":99}`,
        runId: run.runId,
        threadId: run.threadId,
        seq,
        ts: iso(),
      });
      const burst = (run: { runId: string; threadId: string }, from: number, to: number): RunEvent[] =>
        Array.from({ length: to - from + 1 }, (_, i) => ev(run, from + i));
      // Same turn: one group, one statement, a row per run.
      await Promise.all([s.events.append(burst(one, 1, 4)), s.events.append(burst(two, 1, 2))]);
      await s.events.append(burst(one, 5, 7));
      const strip = (events: RunEvent[]) => events.map((e) => ({ ...e, ts: expect.any(String) }));
      expect(await s.events.list(one.runId, 0)).toEqual(strip(burst(one, 1, 7)));
      expect(await s.events.list(one.runId, 2)).toEqual(strip(burst(one, 3, 7)));
      expect(await s.events.list(one.runId, 4)).toEqual(strip(burst(one, 5, 7)));
      expect(await s.events.list(one.runId, 6)).toEqual(strip(burst(one, 7, 7)));
      expect(await s.events.list(one.runId, 7)).toEqual([]);
      expect(await s.events.list(two.runId, 1)).toEqual(strip(burst(two, 2, 2)));
      expect((await s.runs.getRun(one.a.id, one.runId))?.lastSeq).toBe(7);
      expect((await s.runs.getRun(two.a.id, two.runId))?.lastSeq).toBe(2);
      // Where the next writer would start: taken by the burst that starts there.
      await expect(s.events.append(burst(one, 5, 6))).rejects.toBeInstanceOf(SeqTakenError);
      await expect(s.events.append([ev(one, 8), ev(one, 10)])).rejects.toThrow(/consecutive/);
      await expect(s.events.append([ev(one, 8), ev(two, 9)])).rejects.toThrow(/consecutive/);
      expect((await s.events.list(one.runId, 0)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      await s.close();
    });
  });
}
