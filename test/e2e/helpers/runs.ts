import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, expect } from 'vitest';
import {
  OfflineAgent,
  type Agent,
  type AgentIO,
  type AgentRequest,
  type AgentResult,
} from '../../../src/agents/index.js';
import { isTerminalEvent, verifyRunEvents, type RunEvent, type ServerMessage } from '../../../src/protocol/index.js';
import {
  createTestApp,
  request,
  TestSocket,
  wsUrl,
  type registerUser,
  type TestApp,
} from '../../../src/testing/index.js';

export type User = Awaited<ReturnType<typeof registerUser>>;
export type Ack = { type: 'message_accepted'; replyTo: string | null; threadId: string; runId: string };
export type WsError = { type: 'error'; code: string; message: string; replyTo: string | null };
export type Of<T extends RunEvent['type']> = Extract<RunEvent, { type: T }>;
export type Resumed = Extract<ServerMessage, { type: 'resumed' }>;
export type Established = Extract<ServerMessage, { type: 'connection_established' }>;

/** A script the test agent runs when a message's text is `script:<name>`. */
export type Script = (req: AgentRequest, io: AgentIO) => Promise<AgentResult>;

/**
 * The built-in offline agent, except that a message `script:<name>` runs the named script instead:
 * one app per file can then exercise every agent behaviour a test needs.
 */
export class ScriptedAgent implements Agent {
  readonly name = 'scripted';
  private readonly offline = new OfflineAgent();
  constructor(private readonly scripts: Record<string, Script>) {}

  run(req: AgentRequest, io: AgentIO): Promise<AgentResult> {
    const match = /^script:(\S+)/.exec(req.text);
    if (match === null) return this.offline.run(req, io);
    const script = this.scripts[match[1] ?? ''];
    if (script === undefined) throw new Error(`no script ${match[1]}`);
    return script(req, io);
  }
}

/** Scripts shared by several files. */
export const commonScripts: Record<string, Script> = {
  /** `script:deltas <n> <everyMs>`: n deltas "d1 ".."dn ", awaiting every few. Honours the signal. */
  deltas: async (req, io) => {
    const [, n = '300', ms = '2'] = req.text.split(/\s+/);
    let text = '';
    for (let i = 1; i <= Number(n); i++) {
      req.signal.throwIfAborted();
      const piece = `d${i} `;
      io.delta(piece);
      text += piece;
      if (i % 3 === 0) await delay(Number(ms), undefined, { signal: req.signal });
    }
    return { text };
  },
  /** Never finishes and never looks at the signal. */
  deaf: async (_req, io) => {
    io.think('ignoring every signal');
    await new Promise<never>(() => {});
    return { text: 'unreachable' };
  },
  /** Sleeps (signal-aware) for the number of ms in the text, then answers "slept". */
  sleep: async (req, io) => {
    const ms = Number(req.text.split(/\s+/)[1] ?? '30000');
    io.think(`sleeping ${ms} ms`);
    await delay(ms, undefined, { signal: req.signal });
    io.delta('slept');
    return { text: 'slept' };
  },
};

/** A file's (or a describe block's) app: `app` once its beforeAll has run, and `open` for sockets closed with it. */
export interface AppUnderTest {
  readonly app: TestApp;
  /** Opens a socket as the user (Authorization header); it is closed after the tests. */
  open(user: User): Promise<TestSocket>;
}

/**
 * Starts an app with `env` (and `options`) before the tests of the enclosing file or describe block, and closes it,
 * with every socket `open` made, after them.
 */
export function useTestApp(
  env: Record<string, string> = {},
  options?: Parameters<typeof createTestApp>[1],
): AppUnderTest {
  let app: TestApp | undefined;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    app = await createTestApp(env, options);
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await app?.close();
  });
  const started = (): TestApp => {
    if (app === undefined) throw new Error('the test app is not started (use it in a test or hook)');
    return app;
  };
  return {
    get app() {
      return started();
    },
    open: async (user) => {
      const ws = await connect(started(), user);
      sockets.push(ws);
      return ws;
    },
  };
}

/** useTestApp with a ScriptedAgent running `scripts`. */
export function useScriptedApp(
  env: Record<string, string>,
  scripts: Record<string, Script> = commonScripts,
): AppUnderTest {
  return useTestApp(env, { agent: new ScriptedAgent(scripts) });
}

/** Opens a socket with an Authorization header. */
export function connect(app: TestApp, user: User): Promise<TestSocket> {
  return TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${user.accessToken}` } });
}

/** Sends a user_message and waits for its ack (or rejects with the error). */
export async function send(
  ws: TestSocket,
  message: { id: string; text: string; threadId?: string; onBusy?: string },
): Promise<Ack> {
  ws.send({ type: 'user_message', ...message });
  const reply = await ws.next(
    (m) => (m.type === 'message_accepted' || m.type === 'error') && m.replyTo === message.id,
    10_000,
  );
  if (reply.type === 'error') throw new Error(`user_message ${message.id} refused: ${JSON.stringify(reply)}`);
  return reply as Ack;
}

/** Sends a user_message and waits for its run to end: the ack, and the run's events (checked well formed). */
export async function runToEnd(
  ws: TestSocket,
  message: { id: string; text: string; threadId?: string | undefined },
): Promise<{ ack: Ack; events: RunEvent[] }> {
  const { threadId, ...rest } = message;
  const ack = await send(ws, { ...rest, ...(threadId === undefined ? {} : { threadId }) });
  await terminalOf(ws, ack.runId);
  const events = ws.eventsOf(ack.runId);
  expect(verifyRunEvents(events)).toEqual([]);
  return { ack, events };
}

/** The error answering a client message id. */
export async function errorFor(ws: TestSocket, id: string, timeoutMs = 5_000): Promise<WsError> {
  return (await ws.next((m) => m.type === 'error' && m.replyTo === id, timeoutMs)) as WsError;
}

export function isRunEvent(m: ServerMessage): m is RunEvent {
  return 'seq' in m;
}

export const seqs = (events: RunEvent[]): number[] => events.map((e) => e.seq);
/** from..to inclusive; empty when to < from. */
export const range = (from: number, to: number): number[] =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** Waits for a run event of a given type on a socket. */
export function eventOf<T extends RunEvent['type']>(
  ws: TestSocket,
  runId: string,
  type: T,
  timeoutMs = 10_000,
): Promise<Of<T>> {
  return ws.next((m) => isRunEvent(m) && m.runId === runId && m.type === type, timeoutMs) as Promise<Of<T>>;
}

export function terminalOf(ws: TestSocket, runId: string, timeoutMs = 10_000): Promise<RunEvent> {
  return ws.next((m) => isRunEvent(m) && m.runId === runId && isTerminalEvent(m), timeoutMs) as Promise<RunEvent>;
}

/** GET /threads/:id as its owner. */
export async function threadRuns(
  app: TestApp,
  user: User,
  threadId: string,
): Promise<Array<{ id: string; status: string; errorCode: string | null }>> {
  const res = await request<{ thread: { runs: Array<{ id: string; status: string; errorCode: string | null }> } }>(
    app.url,
    'GET',
    `/threads/${threadId}`,
    { token: user.accessToken },
  );
  if (res.status !== 200) throw new Error(`GET /threads/${threadId}: ${res.status}`);
  return res.body.thread.runs;
}

/** Polls until `check` returns true (bounded). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

/** Resolves after `ms`: a bounded quiet period to check that nothing (more) arrives. */
export const settle = (ms = 300): Promise<void> => delay(ms);

/**
 * Records unhandled promise rejections while active: in a real server (Node 20 default) any one of them kills the
 * process, so a run path that leaves one behind is a crash.
 */
export function watchUnhandledRejections(): { readonly seen: unknown[]; stop(): void } {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => void seen.push(reason);
  process.on('unhandledRejection', listener);
  return { seen, stop: () => void process.off('unhandledRejection', listener) };
}
