import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ToolRegistry, waitTool } from '../../src/agents/index.js';
import { isTerminalEvent, verifyRunEvents, type RunEvent, type ServerMessage } from '../../src/protocol/index.js';
import {
  RunHistory,
  RunManager,
  type ConversationStore,
  type EventLog,
  type MessageRecord,
} from '../../src/runs/index.js';
import { MemoryUserEventBus, openSqlite, SqlConversationStore, SqlEventLog } from '../../src/storage/index.js';
import { runManagerDeps, storedUser } from './run-manager-deps.js';

const dir = mkdtempSync(join(tmpdir(), 'agentgate-storage-failure-'));
const db = await openSqlite(dir);
afterAll(async () => {
  await db.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** The database refuses to store assistant messages (a pool timeout, a full disk). */
class AnswersRefused implements ConversationStore {
  constructor(private readonly inner: SqlConversationStore) {}
  createThread = (...a: Parameters<ConversationStore['createThread']>) => this.inner.createThread(...a);
  getThread = (...a: Parameters<ConversationStore['getThread']>) => this.inner.getThread(...a);
  countThreads = (...a: Parameters<ConversationStore['countThreads']>) => this.inner.countThreads(...a);
  setThreadState = (...a: Parameters<ConversationStore['setThreadState']>) => this.inner.setThreadState(...a);
  renameThread = (...a: Parameters<ConversationStore['renameThread']>) => this.inner.renameThread(...a);
  deleteThread = (...a: Parameters<ConversationStore['deleteThread']>) => this.inner.deleteThread(...a);
  deleteIdleThreads = (...a: Parameters<ConversationStore['deleteIdleThreads']>) => this.inner.deleteIdleThreads(...a);
  listThreads = (...a: Parameters<ConversationStore['listThreads']>) => this.inner.listThreads(...a);
  listMessages = (...a: Parameters<ConversationStore['listMessages']>) => this.inner.listMessages(...a);
  async addMessage(m: MessageRecord): Promise<void> {
    if (m.role === 'assistant') throw new Error('timeout exceeded when trying to connect');
    return this.inner.addMessage(m);
  }
}

const newUser = (): Promise<string> => storedUser(db);

/** The run events the user's bus delivers, and when the first terminal one arrives. */
function follow(
  bus: MemoryUserEventBus,
  userId: string,
  onEvent: (event: RunEvent) => void = () => {},
): { seen: RunEvent[]; terminal: Promise<void> } {
  const seen: RunEvent[] = [];
  let ended!: () => void;
  const terminal = new Promise<void>((resolve) => (ended = resolve));
  bus.subscribe(userId, {
    message: (m: ServerMessage) => {
      if (!('seq' in m)) return;
      seen.push(m);
      onEvent(m);
      if (isTerminalEvent(m)) ended();
    },
    resync: () => {},
  });
  return { seen, terminal };
}

describe('a run whose storage fails', () => {
  it('ends agent_error service_unavailable (not agent_failed: the agent did nothing wrong), stored as such', async () => {
    const sql = new SqlConversationStore(db);
    const bus = new MemoryUserEventBus();
    const runs = new RunManager(runManagerDeps(db, { conversations: new AnswersRefused(sql), runs: sql, bus }));
    const userId = await newUser();
    const { seen, terminal } = follow(bus, userId);

    const { runId } = await runs.submit(userId, { text: 'hello', connectionId: null });
    await terminal;
    await runs.shutdown(5_000);

    const last = seen.at(-1)!;
    expect(last).toMatchObject({ type: 'agent_error', code: 'service_unavailable' });
    expect(seen.some((e) => e.type === 'agent_completed')).toBe(false);
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => i + 1));
    const history = new RunHistory({ runs: sql, events: new SqlEventLog(db) });
    expect(await history.getRun(userId, runId)).toMatchObject({ status: 'error', errorCode: 'service_unavailable' });
    const { events } = await history.eventsAfter(userId, runId, 0);
    expect(events).toEqual(seen);
  });
});

describe('a message whose thread cannot be stored', () => {
  it('is refused service_unavailable (send again), as HTTP answers, never internal_error; nothing is left claimed', async () => {
    const sql = new SqlConversationStore(db);
    /** The database is unreachable for thread creation (a pool timeout). */
    class ThreadsUnreachable extends AnswersRefused {
      override createThread = async (): Promise<void> => {
        throw new Error('timeout exceeded when trying to connect');
      };
    }
    const runs = new RunManager(runManagerDeps(db, { conversations: new ThreadsUnreachable(sql), runs: sql }));
    const userId = randomUUID();
    const attempt = runs.submit(userId, { text: 'hello', clientId: 'm1', connectionId: null });
    await expect(attempt).rejects.toMatchObject({ code: 'service_unavailable' });
    // The id was released: the same message sent again is tried again (and refused the same way), not answered
    // with a stale ack.
    await expect(runs.submit(userId, { text: 'hello', clientId: 'm1', connectionId: null })).rejects.toMatchObject({
      code: 'service_unavailable',
    });
    await runs.shutdown();
  });
});

describe('a run whose events cannot be stored for a while', () => {
  it('ends service_unavailable at once for its followers, and once storage is back its log ends with that event and its status says so', async () => {
    const sql = new SqlConversationStore(db);
    const inner = new SqlEventLog(db);
    let down = false;
    const events: EventLog = {
      append: async (batch) => {
        if (down) throw new Error('Connection terminated unexpectedly');
        return inner.append(batch);
      },
      list: (runId, after) => inner.list(runId, after),
    };
    const bus = new MemoryUserEventBus();
    const tools = new ToolRegistry([waitTool]);
    const runs = new RunManager(runManagerDeps(db, { conversations: sql, runs: sql, events, bus, tools }));
    const userId = await newUser();
    // Storage goes down while the run waits on its tool.
    const { seen, terminal } = follow(bus, userId, (e) => void (e.type === 'tool_executing' && (down = true)));
    // The offline agent's wait tool: storage goes down while the run waits on it.
    const { runId } = await runs.submit(userId, { text: 'wait 1 seconds', connectionId: null });
    await terminal;
    expect(seen.at(-1)).toMatchObject({ type: 'agent_error', code: 'service_unavailable' });
    down = false;
    await runs.shutdown(10_000);
    const history = new RunHistory({ runs: sql, events: inner });
    const stored = (await history.eventsAfter(userId, runId, 0)).events;
    expect(stored.at(-1)).toEqual(seen.at(-1));
    expect(verifyRunEvents(stored), JSON.stringify(stored.map((e) => [e.seq, e.type]))).toEqual([]);
    expect(await history.getRun(userId, runId)).toMatchObject({ status: 'error', errorCode: 'service_unavailable' });
  });
});
