import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyRunEvents, type RunEvent } from '../../src/protocol/index.js';
import { createTestApp, registerUser, request, TestSocket, wsUrl, type TestApp } from '../../src/testing/index.js';
import {
  connect,
  eventOf,
  send,
  terminalOf,
  threadRuns,
  type Established,
  type Of,
  type Resumed,
  type User,
} from './helpers/runs.js';

const dirs: string[] = [];
const apps: TestApp[] = [];
const sockets: TestSocket[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const s of sockets) s.close();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(apps.map((a) => a.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-restart-'));
  dirs.push(dir);
  return dir;
}

async function startOn(dir: string): Promise<TestApp> {
  const app = await createTestApp({ DATA_DIR: dir });
  apps.push(app);
  return app;
}

async function storedEvents(baseUrl: string, user: User, runId: string): Promise<RunEvent[]> {
  const res = await request<{ events: RunEvent[] }>(baseUrl, 'GET', `/runs/${runId}/events?after=0`, {
    token: user.accessToken,
  });
  expect(res.status).toBe(200);
  return res.body.events;
}

/** The run was cut short by the server going away: well formed, wait call closed with an error, agent_error interrupted last. */
function expectInterrupted(events: RunEvent[], toolCallId: string): void {
  expect(verifyRunEvents(events)).toEqual([]);
  expect(
    events.find((e): e is Of<'tool_completed'> => e.type === 'tool_completed' && e.toolCallId === toolCallId)?.error,
  ).toEqual(expect.objectContaining({ code: expect.any(String) }));
  expect(events.at(-1)).toMatchObject({ type: 'agent_error', code: 'interrupted', message: expect.any(String) });
}

/** Starts "wait 30 seconds" and waits until the tool is executing. */
async function startLongRun(
  app: TestApp,
  user: User,
): Promise<{ ws: TestSocket; runId: string; threadId: string; toolCallId: string }> {
  const ws = await connect(app, user);
  sockets.push(ws);
  const ack = await send(ws, { id: 'long', text: 'wait 30 seconds' });
  const tool = await eventOf(ws, ack.runId, 'tool_executing');
  return { ws, runId: ack.runId, threadId: ack.threadId, toolCallId: tool.toolCallId };
}

/** After a restart: a new connection lists no active run, and resume from 0 replays the whole interrupted run. */
async function expectResumable(app: TestApp, user: User, runId: string, stored: RunEvent[]): Promise<void> {
  const ws = await TestSocket.open(wsUrl(app.url), { headers: { authorization: `Bearer ${user.accessToken}` } });
  sockets.push(ws);
  expect((ws.messages[0] as Established).activeRuns).toEqual([]);
  ws.send({ type: 'resume', id: 'r', runId, afterSeq: 0 });
  expect((await ws.next((m) => m.type === 'resumed' && m.replyTo === 'r')) as Resumed).toMatchObject({
    finished: true,
    lastSeq: stored.length,
  });
  expect(ws.eventsOf(runId)).toEqual(stored);
}

describe('runs: server restart', () => {
  it('a graceful stop closes sockets 1001, ends a running run agent_error interrupted, and the next server on the same DATA_DIR serves it', async () => {
    const dir = dataDir();
    const app1 = await startOn(dir);
    const user = await registerUser(app1.url, 'graceful');
    const run = await startLongRun(app1, user);

    const t0 = Date.now();
    await app1.stop();
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect((await run.ws.waitClose(2_000)).code).toBe(1001);
    // Whatever reached the client before the close was a clean prefix of the run.
    expect(verifyRunEvents(run.ws.eventsOf(run.runId), { complete: false })).toEqual([]);

    const app2 = await startOn(dir);
    const stored = await storedEvents(app2.url, user, run.runId);
    expectInterrupted(stored, run.toolCallId);
    expect(stored.slice(0, run.ws.eventsOf(run.runId).length)).toEqual(run.ws.eventsOf(run.runId));
    expect(await threadRuns(app2, user, run.threadId)).toEqual([
      expect.objectContaining({ id: run.runId, status: 'interrupted', errorCode: 'interrupted' }),
    ]);
    await expectResumable(app2, user, run.runId, stored);
    // The restarted server still runs new messages in that thread.
    const ws = await connect(app2, user);
    sockets.push(ws);
    const next = await send(ws, { id: 'after', threadId: run.threadId, text: 'calculate 12*7' });
    expect((await terminalOf(ws, next.runId)).type).toBe('agent_completed');
  });

  it('a crash (SIGKILL, no graceful stop) leaves the run running; the next server on the same DATA_DIR marks it agent_error interrupted', async () => {
    const dir = dataDir();
    const script = fileURLToPath(new URL('./helpers/crash-server.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, CRASH_DATA_DIR: dir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    // No timer of its own: a loaded machine only makes the start slower, and the test's timeout bounds it; an exit
    // fails at once.
    const url = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      lines.once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
      child.once('exit', (code) => reject(new Error(`crash server exited ${code}`)));
    });
    const user = await registerUser(url, 'crash');
    const ws = await TestSocket.open(wsUrl(url), { headers: { authorization: `Bearer ${user.accessToken}` } });
    sockets.push(ws);
    const ack = await send(ws, { id: 'long', text: 'wait 30 seconds' });
    const tool = await eventOf(ws, ack.runId, 'tool_executing');
    const seen = ws.eventsOf(ack.runId);

    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    await ws.waitClose(5_000);

    const app2 = await startOn(dir);
    const stored = await storedEvents(app2.url, user, ack.runId);
    expectInterrupted(stored, tool.toolCallId);
    expect(stored.slice(0, seen.length)).toEqual(seen);
    expect(await threadRuns(app2, user, ack.threadId)).toEqual([
      expect.objectContaining({ id: ack.runId, status: 'interrupted', errorCode: 'interrupted' }),
    ]);
    await expectResumable(app2, user, ack.runId, stored);
  });

  it('a second server on the DATA_DIR of a live one refuses to start, naming the folder and the process; the live run goes on untouched', async () => {
    const dir = dataDir();
    const app1 = await startOn(dir);
    const user = await registerUser(app1.url, 'twin');
    const run = await startLongRun(app1, user);

    const second = await createTestApp({ DATA_DIR: dir }).then(
      (app) => (apps.push(app), undefined),
      (err: unknown) => err,
    );
    expect(second).toBeInstanceOf(Error);
    expect((second as Error).message).toContain(dir);
    expect((second as Error).message).toContain(`pid ${process.pid}`);

    // Nothing of the first server's run was touched: it is still running, and it ends as its own user decides.
    expect((await threadRuns(app1, user, run.threadId))[0]?.status).toBe('running');
    run.ws.send({ type: 'cancel_run', id: 'c', runId: run.runId });
    expect(await terminalOf(run.ws, run.runId)).toMatchObject({ type: 'run_cancelled' });
    const stored = await storedEvents(app1.url, user, run.runId);
    expect(verifyRunEvents(stored)).toEqual([]);
    expect(stored.at(-1)).toMatchObject({ type: 'run_cancelled' });
  });
});
