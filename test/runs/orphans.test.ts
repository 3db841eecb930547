import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { OrphanRecovery, type RunStore } from '../../src/runs/index.js';
import {
  MemoryUserEventBus,
  openSqlite,
  SoleInstanceLiveness,
  SqlConversationStore,
  SqlEventLog,
} from '../../src/storage/index.js';
import { runManagerDeps, storedUser } from './run-manager-deps.js';

const dir = mkdtempSync(join(tmpdir(), 'agentgate-orphans-'));
const db = await openSqlite(dir);
afterAll(async () => {
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const conversations = new SqlConversationStore(db);
const events = new SqlEventLog(db);
const iso = () => new Date().toISOString();

/** The orphan recovery of an instance that sees only itself as alive, sharing one database with the others. */
function instance(
  bus = new MemoryUserEventBus(),
  liveness = new SoleInstanceLiveness(randomUUID()),
  runs: RunStore = conversations,
): OrphanRecovery {
  return new OrphanRecovery(runManagerDeps(db, { conversations, runs, events, bus, liveness }));
}

/** A run left `running` by a dead instance, with an open tool call. */
async function orphan(): Promise<{ userId: string; runId: string }> {
  const userId = await storedUser(db, { createdAt: iso() });
  const threadId = randomUUID();
  const runId = randomUUID();
  await conversations.createThread({ id: threadId, userId, title: 't', createdAt: iso(), updatedAt: iso() });
  await conversations.createRun({
    id: runId,
    threadId,
    userId,
    status: 'running',
    errorCode: null,
    lastSeq: 0,
    createdAt: iso(),
    updatedAt: iso(),
    instanceId: 'dead-instance',
  });
  await events.append([
    { type: 'agent_started', runId, threadId, seq: 1, ts: iso() },
    { type: 'tool_executing', toolCallId: 'c1', tool: 'wait', args: {}, runId, threadId, seq: 2, ts: iso() },
  ]);
  return { userId, runId };
}

describe('orphaned runs', () => {
  it('several instances sweeping at once end each orphan once: one well-formed interrupted ending, announced to the user', async () => {
    const orphans = await Promise.all(Array.from({ length: 5 }, orphan));
    const bus = new MemoryUserEventBus();
    const announced: RunEvent[] = [];
    for (const o of orphans)
      bus.subscribe(o.userId, { message: (m) => void ('seq' in m && announced.push(m)), resync: () => {} });
    // One sweeper lists the orphans, then stalls while the others end them all, then goes on with its stale list.
    const stale: RunStore = {
      createRun: (r) => conversations.createRun(r),
      getRun: (u, r) => conversations.getRun(u, r),
      listRuns: (u, t) => conversations.listRuns(u, t),
      isRunIdTaken: (r) => conversations.isRunIdTaken(r),
      finishRun: (...a) => conversations.finishRun(...a),
      listActive: (u) => conversations.listActive(u),
      listUnfinished: async () => {
        const listed = await conversations.listUnfinished();
        await new Promise((r) => setTimeout(r, 200));
        return listed;
      },
    };
    const sweepers = [instance(bus, undefined, stale), instance(bus), instance(bus)];
    // Repeated rounds too: a sweep that listed a run before another ended it must not end it again.
    for (let round = 0; round < 3; round++) await Promise.all(sweepers.map((s) => s.recover()));
    for (const o of orphans) {
      const log = await events.list(o.runId, 0);
      expect(verifyRunEvents(log)).toEqual([]);
      expect(log.map((e) => e.type)).toEqual(['agent_started', 'tool_executing', 'tool_completed', 'agent_error']);
      expect(log.at(-1)).toMatchObject({ type: 'agent_error', code: 'interrupted' });
      expect(await conversations.getRun(o.userId, o.runId)).toMatchObject({
        status: 'interrupted',
        errorCode: 'interrupted',
        lastSeq: 4,
      });
      // What was announced is exactly what was stored after seq 2, once each.
      expect(announced.filter((e) => e.runId === o.runId)).toEqual(log.slice(2));
    }
  });

  it('a run whose instance is alive is left alone', async () => {
    const liveness = new SoleInstanceLiveness(randomUUID());
    const manager = instance(new MemoryUserEventBus(), liveness);
    const o = await orphan();
    await db.updateTable('runs').set({ instance_id: liveness.instanceId }).where('id', '=', o.runId).execute();
    expect(await manager.recover()).toBe(0);
    expect(await conversations.getRun(o.userId, o.runId)).toMatchObject({ status: 'running' });
  });
});
